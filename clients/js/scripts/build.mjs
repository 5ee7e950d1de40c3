// Builds dist/: ESM bundles of the two entry points (esbuild) and their .d.ts files (tsc).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PKG = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(PKG, "dist"), { recursive: true, force: true });
await build({
  absWorkingDir: PKG,
  entryPoints: ["src/index.ts", "src/react.ts"],
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["react"],
  sourcemap: true,
  logLevel: "warning",
});
execFileSync(join(PKG, "node_modules/.bin/tsc"), ["-p", PKG], { stdio: "inherit" });
