// Copy the prebuilt JavaScript the static book needs from node_modules into
// _static/vendor (committed) and record the exact versions in VERSIONS.json.
// Run after installing the locked packages:
//   cd book && npm ci --ignore-scripts && npm run vendor
// _config.yml points Sphinx at these files: the built site loads nothing from a CDN.
const fs = require("fs");
const path = require("path");

const here = __dirname;
const modules = path.join(here, "node_modules");
const vendor = path.join(here, "_static", "vendor");

// package -> what to copy (paths relative to the package; folders are copied whole), destination folder
const WANTED = [
  {
    // The standalone (non-AMD) ipywidgets manager with the base, controls and output widgets built in:
    // it renders every widget-state/view script pair on page load (unet_core.widgets.parameter_slider).
    // The woff/woff2 files are the Font Awesome icons its CSS references (modern browsers need no more).
    name: "@jupyter-widgets/html-manager",
    dest: "html-manager",
    files: (pkg) =>
      fs.readdirSync(path.join(pkg, "dist"))
        .filter((f) => f === "embed.js" || f === "embed.js.LICENSE.txt" || /\.woff2?$/.test(f))
        .map((f) => ["dist/" + f, f]),
  },
  {
    // MathJax 3 for the chapters' equations (Sphinx's mathjax_path); fonts and TeX extensions are
    // loaded relative to the script, so the es5 layout is kept.
    name: "mathjax",
    dest: "mathjax",
    files: () => [
      ["es5/tex-mml-chtml.js", "es5/tex-mml-chtml.js"],
      ["es5/output/chtml/fonts/woff-v2", "es5/output/chtml/fonts/woff-v2"],
      ["es5/input/tex/extensions", "es5/input/tex/extensions"],
      ["LICENSE", "LICENSE"],
    ],
  },
];

// Fixes applied to the copied files (each must match exactly once, or vendoring fails).
const PATCHES = [
  {
    // html-manager compiles the widget-state JSON schema with `new Ajv()` (Ajv 8, strict mode); the
    // schema's buffer paths are `"type": ["string", "number"]`, a union type, so every page that
    // loads embed.js logged "strict mode: use allowUnionTypes to allow union type keyword" as a
    // console warning. allowUnionTypes only lifts that strict-mode check; validation is unchanged.
    name: "@jupyter-widgets/html-manager",
    file: "embed.js",
    find: /(\w+)=new\((\w+)\(\)\)(,\w+=\1\.compile\()/g,
    replace: "$1=new($2())({allowUnionTypes:!0})$3",
    note: "embed.js: the widget-state schema's Ajv is created with {allowUnionTypes: true} (no strict-mode console warning)",
  },
];

function applyPatch(text, patch) {
  const hits = text.match(patch.find) || [];
  if (hits.length !== 1) throw new Error(`${patch.name}/${patch.file}: patch matched ${hits.length} times, expected 1`);
  return text.replace(patch.find, patch.replace);
}

const readJson = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
const info = {
  source: "npm packages, see book/package.json and book/package-lock.json; refresh with `npm run vendor`",
  packages: {},
};
fs.rmSync(vendor, { recursive: true, force: true });
for (const { name, dest, files } of WANTED) {
  const pkg = path.join(modules, ...name.split("/"));
  const meta = readJson(path.join(pkg, "package.json"));
  const copied = [];
  for (const [from, to] of files(pkg)) {
    const target = path.join(vendor, dest, to);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.cpSync(path.join(pkg, from), target, { recursive: true });
    copied.push(to);
  }
  info.packages[name] = { version: meta.version, license: meta.license, folder: dest, files: copied.sort() };
  for (const patch of PATCHES.filter((p) => p.name === name)) {
    const target = path.join(vendor, dest, patch.file);
    fs.writeFileSync(target, applyPatch(fs.readFileSync(target, "utf8"), patch));
    (info.packages[name].patches = info.packages[name].patches || []).push(patch.note);
  }
}
// the widget packages bundled inside embed.js, for the record
for (const name of ["@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"]) {
  info.packages["@jupyter-widgets/html-manager"][name.split("/")[1] + " (bundled)"] =
    readJson(path.join(modules, ...name.split("/"), "package.json")).version;
}
fs.writeFileSync(path.join(vendor, "VERSIONS.json"), JSON.stringify(info, null, 2) + "\n");
console.log(`vendored into ${path.relative(here, vendor)}:`,
  Object.entries(info.packages).map(([n, p]) => `${n}@${p.version}`).join(", "));
