import { embeddedAssets } from "./assets/embed" with { type: "macro" };

/** The dashboard's static files, inlined at build time, each with a content hash for its URL. */
const FILES = embeddedAssets();

const TYPES: Record<string, string> = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8", svg: "image/svg+xml" };

export interface Asset {
  body: string;
  type: string;
  /** Short content hash: part of the URL, so a file can be cached for good. */
  hash: string;
}

const ASSETS = new Map<string, Asset>(
  Object.entries(FILES).map(([name, body]) => [
    name,
    { body, type: TYPES[name.split(".").at(-1)!] ?? "application/octet-stream", hash: new Bun.CryptoHasher("sha256").update(body).digest("hex").slice(0, 12) },
  ]),
);

export const assetNamed = (name: string): Asset | undefined => ASSETS.get(name);

/** `/dashboard/assets/dashboard.js?v=<hash>`. */
export function assetUrl(name: string): string {
  const asset = ASSETS.get(name);
  if (!asset) throw new Error(`no dashboard asset named ${name}`);
  return `/dashboard/assets/${name}?v=${asset.hash}`;
}
