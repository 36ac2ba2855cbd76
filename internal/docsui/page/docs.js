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
