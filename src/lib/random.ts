/**
 * Random bytes from the Web Crypto global: what node:crypto's randomBytes gives, without loading
 * node:crypto (its module alone costs a boot about 15 ms on this project's machine).
 */
export const randomBytes = (size: number): Buffer => Buffer.from(crypto.getRandomValues(new Uint8Array(size)));
