// Starts Swagger UI on the API docs page. Its settings come from the page's data attributes:
// the Content-Security-Policy allows no inline script.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    oauth2RedirectUrl: new URL(root.dataset.oauth2RedirectUrl, window.location.href).href,
    layout: "BaseLayout",
    deepLinking: true,
    // Tags start closed: with every department's operations open at once the page is hundreds of
    // blocks long (and Swagger UI stops drawing them part-way); a reader opens the one they need.
    docExpansion: "none",
    showExtensions: true,
    showCommonExtensions: true,
    // No badge fetched from validator.swagger.io: the page loads nothing from another origin.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
