// Starts Swagger UI on this server's OpenAPI document. It lives in a file of
// its own so that the page's Content-Security-Policy can forbid inline
// scripts.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // A secret key must not outlive the tab it was typed into.
  persistAuthorization: false,
  displayRequestDuration: true,
  // The default validator is an outside service; the page works offline.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});

// Swagger UI renders some select boxes without a label (a response's
// content type, a server): name them for screen readers as they appear.
(function () {
  function label(root) {
    root.querySelectorAll("select:not([aria-label])").forEach(function (s) {
      var near = s.closest("label, .response-control-media-type, .content-type-wrapper, .servers");
      s.setAttribute("aria-label", near && near.textContent.trim() ? near.textContent.trim().slice(0, 60) : "Choose a value");
    });
  }
  // At most every half second, whatever Swagger UI changes meanwhile.
  var due = false;
  new MutationObserver(function () {
    if (due) return;
    due = true;
    setTimeout(function () { due = false; label(document); }, 500);
  }).observe(document.getElementById("swagger-ui"), { childList: true, subtree: true });
})();
