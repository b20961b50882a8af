// Copy the prebuilt JavaScript the static book needs from node_modules into
// _static/vendor (committed), and record exact versions. Run after `npm ci`:
//   cd book && npm ci --ignore-scripts && npm run vendor
// Nothing is fetched at page load from a CDN: _config.yml points Sphinx at these files.
const fs = require("fs");
const path = require("path");

const here = __dirname;
const pkgDir = path.join(here, "node_modules", "@jupyter-widgets", "html-manager");
const dist = path.join(pkgDir, "dist");
const dest = path.join(here, "_static", "vendor", "html-manager");

fs.rmSync(dest, { recursive: true, force: true });
fs.mkdirSync(dest, { recursive: true });
// embed.js: the standalone (non-AMD) widget manager with the base, controls and
// output widgets built in; it renders every widget-state/view script pair on load.
// The font files are Font Awesome icons that its CSS references (woff2/woff suffice).
const wanted = fs.readdirSync(dist).filter(
  (f) => f === "embed.js" || f === "embed.js.LICENSE.txt" || /\.(woff2?)$/.test(f)
);
for (const f of wanted) fs.copyFileSync(path.join(dist, f), path.join(dest, f));
// The package ships no LICENSE file; its licence (BSD-3-Clause) is in package.json, and
// embed.js.LICENSE.txt lists the bundled third-party licences.

const version = (name) =>
  JSON.parse(fs.readFileSync(path.join(here, "node_modules", ...name.split("/"), "package.json"))).version;
const info = {
  license: JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"))).license,
  source: "npm package @jupyter-widgets/html-manager, dist/ (see book/package.json and book/package-lock.json)",
  files: wanted.sort(),
  versions: Object.fromEntries(
    ["@jupyter-widgets/html-manager", "@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"].map(
      (n) => [n, version(n)]
    )
  ),
};
fs.writeFileSync(path.join(dest, "VERSIONS.json"), JSON.stringify(info, null, 2) + "\n");
console.log(`vendored ${wanted.length} files into ${path.relative(here, dest)}`, info.versions);
