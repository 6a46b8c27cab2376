// Writes qr-scanner's decoder worker as a plain same-origin file.
// qr-scanner ships the worker as a string turned into a blob: URL at run time, which a strict
// CSP (worker-src 'self') refuses; served from static/vendor/ it needs no CSP exception.
// Usage: node bin/qr-worker.mjs node_modules/qr-scanner/qr-scanner-worker.min.js OUT.js
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [source, out] = process.argv.slice(2);
let code = null;
globalThis.Blob = class { constructor(parts) { this.parts = parts; } };
globalThis.URL.createObjectURL = (blob) => blob;
globalThis.Worker = class { constructor(blob) { code = blob.parts.join(""); } };
const module = await import(pathToFileURL(resolve(source)).href);
module.createWorker();
if (!code || !code.includes("onmessage")) throw new Error("qr-scanner worker source not found");
writeFileSync(out, code);
