import { cmd } from "~/lib/command-name";
import { AppError } from "~/lib/errors";
import { GITHUB_CLIENT_ID, GITHUB_SCOPES, type UpstreamUrls } from "./config";

export interface DeviceCode {
  device_code: string;
  user_code: string;
  verification_uri: string;
  expires_in: number;
  interval: number;
}

const jsonHeaders = { accept: "application/json", "content-type": "application/json" };

/** Step 1 of GitHub's device flow: a code for the user to enter at verification_uri. */
export async function requestDeviceCode(urls: UpstreamUrls): Promise<DeviceCode> {
  const response = await fetch(`${urls.github}/login/device/code`, {
    method: "POST",
    headers: jsonHeaders,
    body: JSON.stringify({ client_id: GITHUB_CLIENT_ID, scope: GITHUB_SCOPES }),
  });
  if (!response.ok) {
    throw new AppError(`GitHub refused the device code request (HTTP ${response.status})`, `check your network, then run \`${cmd("auth")}\` again`);
  }
  return (await response.json()) as DeviceCode;
}

/**
 * Step 2: poll until the user has approved, honouring GitHub's interval and its
 * slow_down answers, and giving up when the code expires.
 */
export async function pollForToken(urls: UpstreamUrls, code: DeviceCode, sleep = (ms: number) => Bun.sleep(ms)): Promise<string> {
  let intervalMs = Math.max(code.interval * 1000, 50);
  const deadline = Date.now() + code.expires_in * 1000;
  while (Date.now() < deadline) {
    await sleep(intervalMs);
    const response = await fetch(`${urls.github}/login/oauth/access_token`, {
      method: "POST",
      headers: jsonHeaders,
      body: JSON.stringify({ client_id: GITHUB_CLIENT_ID, device_code: code.device_code, grant_type: "urn:ietf:params:oauth:grant-type:device_code" }),
    });
    if (!response.ok) continue; // a passing server error: keep polling until the code expires
    const body = (await response.json()) as { access_token?: string; error?: string; interval?: number };
    if (body.access_token) return body.access_token;
    switch (body.error) {
      case "authorization_pending":
        break;
      case "slow_down":
        intervalMs = (body.interval ?? intervalMs / 1000 + 5) * 1000;
        break;
      case "access_denied":
        throw new AppError("the authorization was denied on GitHub", `run \`${cmd("auth")}\` again and approve the request`);
      case "expired_token":
        throw new AppError("the device code expired before it was approved", `run \`${cmd("auth")}\` again and enter the code within its time`);
      default:
        throw new AppError(`GitHub answered the device flow with "${body.error ?? "no token"}"`, `run \`${cmd("auth")}\` again`);
    }
  }
  throw new AppError("the device code expired before it was approved", `run \`${cmd("auth")}\` again and enter the code within its time`);
}
