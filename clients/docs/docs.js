// The API reference at /api/docs: Swagger UI (npm swagger-ui-dist, served from this
// Worker's static assets; no CDN) over the served OpenAPI document. "Try it out" calls
// this origin, whatever servers the document lists, so it works on any deployment.
(async function () {
  const root = document.getElementById("swagger-ui");
  let spec;
  try {
    const res = await fetch("/api/openapi.json", { headers: { accept: "application/json" } });
    if (!res.ok) throw new Error("HTTP " + res.status);
    spec = await res.json();
  } catch (e) {
    root.textContent = "Could not load /api/openapi.json: " + e.message;
    return;
  }
  spec.servers = [{ url: location.origin, description: "this server" }].concat(
    (spec.servers || []).filter((s) => s.url !== location.origin),
  );
  root.textContent = "";
  window.ui = SwaggerUIBundle({
    spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // A token pasted under Authorize stays for this tab only (sessionStorage is not used:
    // the token lives in the page's memory, as in the console).
    persistAuthorization: false,
    displayRequestDuration: true,
    filter: true,
    showExtensions: true,
    tryItOutEnabled: false,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    validatorUrl: null,
    onComplete() {
      root.dataset.ready = "1";
    },
  });
})();
