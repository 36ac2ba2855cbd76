// paygate hosted checkout: help as the customer types. The server checks
// everything again and is the authority; without this script the page
// works the same, only without the hints.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form) return;
  var number = document.getElementById("number");
  var exp = document.getElementById("exp");
  var cvc = document.getElementById("cvc");
  var name = document.getElementById("name");
  var brandOut = document.getElementById("brand");
  var pay = document.getElementById("pay");

  var brands = [
    { id: "amex", label: "American Express", re: /^3[47]/, lengths: [15], cvc: 4, groups: [4, 6, 5] },
    { id: "diners", label: "Diners Club", re: /^3(0[0-5]|[689])/, lengths: [14, 16, 19], cvc: 3 },
    { id: "jcb", label: "JCB", re: /^35(2[89]|[3-8])/, lengths: [16, 17, 18, 19], cvc: 3 },
    { id: "visa", label: "Visa", re: /^4/, lengths: [13, 16, 19], cvc: 3 },
    { id: "mastercard", label: "Mastercard", re: /^(5[1-5]|2(2[2-9]|[3-6]|7[01]|720))/, lengths: [16], cvc: 3 },
    { id: "discover", label: "Discover", re: /^(6011|65|64[4-9]|622)/, lengths: [16, 17, 18, 19], cvc: 3 },
    { id: "unionpay", label: "UnionPay", re: /^62/, lengths: [16, 17, 18, 19], cvc: 3 }
  ];

  function digits(s) { return s.replace(/\D/g, ""); }

  function brandOf(d) {
    for (var i = 0; i < brands.length; i++) if (brands[i].re.test(d)) return brands[i];
    return null;
  }

  function luhn(d) {
    var sum = 0, dbl = false;
    for (var i = d.length - 1; i >= 0; i--) {
      var n = d.charCodeAt(i) - 48;
      if (dbl) { n *= 2; if (n > 9) n -= 9; }
      sum += n; dbl = !dbl;
    }
    return d.length > 0 && sum % 10 === 0;
  }

  function group(d, b) {
    var sizes = (b && b.groups) || [4, 4, 4, 4, 3];
    var out = [], at = 0;
    for (var i = 0; i < sizes.length && at < d.length; i++) { out.push(d.slice(at, at + sizes[i])); at += sizes[i]; }
    if (at < d.length) out.push(d.slice(at));
    return out.join(" ");
  }

  function setError(input, msg) {
    var out = document.getElementById(input.id + "-error");
    out.textContent = msg;
    var field = input.closest(".field");
    if (msg) { input.setAttribute("aria-invalid", "true"); field.classList.add("invalid"); }
    else { input.removeAttribute("aria-invalid"); field.classList.remove("invalid"); }
  }

  function checkNumber(final) {
    var d = digits(number.value), b = brandOf(d);
    if (final && d.length === 0) return "Enter your card number.";
    // As the customer types: once the number has its usual length (15
    // for American Express, 14 for Diners Club, 16 for the others) or more.
    var usual = b && b.id === "amex" ? 15 : b && b.id === "diners" ? 14 : 16;
    if (final || d.length >= usual) {
      if (b && b.lengths.indexOf(d.length) < 0) {
        return final || d.length >= Math.max.apply(null, b.lengths) ? "This " + b.label + " number has the wrong length." : "";
      }
      if (d.length < 12) return "This card number is incomplete.";
      if (!luhn(d)) return "This card number is not valid: check it for a typo.";
    }
    return "";
  }

  function checkExp(final) {
    var d = digits(exp.value);
    if (d.length < 4) return final ? (d.length ? "Enter the expiry as MM / YY." : "Enter the expiry date.") : "";
    var m = parseInt(d.slice(0, 2), 10), y = parseInt(d.slice(2), 10);
    if (y < 100) y += 2000;
    if (m < 1 || m > 12) return "The month must be 01 to 12.";
    var now = new Date();
    if (y < now.getFullYear() || (y === now.getFullYear() && m < now.getMonth() + 1)) return "This card has expired.";
    return "";
  }

  function checkCVC(final) {
    var d = digits(cvc.value), b = brandOf(digits(number.value)), want = b ? b.cvc : 0;
    if (!final) return "";
    if (d.length === 0) return "Enter the security code.";
    if (want ? d.length !== want : d.length < 3) return "The security code has " + (want || "3 or 4") + " digits.";
    return "";
  }

  number.addEventListener("input", function () {
    var d = digits(number.value).slice(0, 19), b = brandOf(d);
    number.value = group(d, b);
    brandOut.textContent = b ? b.label : "";
    setError(number, checkNumber(false));
  });
  number.addEventListener("blur", function () { if (number.value) setError(number, checkNumber(true)); });

  exp.addEventListener("input", function (e) {
    var d = digits(exp.value).slice(0, 4);
    if (d.length === 1 && d > "1") d = "0" + d;
    var deleting = e.inputType && e.inputType.indexOf("delete") === 0;
    exp.value = d.length > 2 || (d.length === 2 && !deleting) ? d.slice(0, 2) + " / " + d.slice(2) : d;
    setError(exp, checkExp(false));
  });
  exp.addEventListener("blur", function () { if (exp.value) setError(exp, checkExp(true)); });
  cvc.addEventListener("input", function () { cvc.value = digits(cvc.value).slice(0, 4); setError(cvc, ""); });
  cvc.addEventListener("blur", function () { if (cvc.value) setError(cvc, checkCVC(true)); });
  name.addEventListener("input", function () { setError(name, ""); });

  form.addEventListener("submit", function (e) {
    var checks = [[number, checkNumber(true)], [exp, checkExp(true)], [cvc, checkCVC(true)],
      [name, name.value.trim() ? "" : "Enter the name on the card."]];
    var first = null;
    checks.forEach(function (c) { setError(c[0], c[1]); if (c[1] && !first) first = c[0]; });
    if (first) { e.preventDefault(); first.focus(); return; }
    // One submission: the server charges once anyway, but a second click
    // need not even be sent.
    if (form.dataset.sent) { e.preventDefault(); return; }
    form.dataset.sent = "1";
    pay.disabled = true;
    pay.textContent = "Processing…";
  });
})();
