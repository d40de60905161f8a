/** Ms a scrape or a probe may take before it counts as failed. */
const TIMEOUT_MS = 2_000;

const headers = (apiKey?: string) => (apiKey ? { authorization: `Bearer ${apiKey}` } : undefined);

/** The engine's Prometheus exposition, or undefined when it could not be read. */
export async function scrapeMetrics(metricsUrl: string, apiKey?: string): Promise<string | undefined> {
  try {
    const response = await fetch(metricsUrl, { headers: headers(apiKey), signal: AbortSignal.timeout(TIMEOUT_MS) });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the upstream answers again: `GET <baseUrl>/models`, which every OpenAI-compatible
 * server has and which generates nothing, so probing risks no caller's request. A 2xx is
 * healthy; anything else, or silence, is not (the answer's reason is returned).
 */
export async function probeUpstream(baseUrl: string, apiKey?: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const response = await fetch(`${baseUrl.replace(/\/$/, '')}/models`, { headers: headers(apiKey), signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    return { ok: response.ok, detail: `probe answered HTTP ${response.status}` };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    return { ok: false, detail: `probe failed: ${cause?.code ?? (e instanceof Error ? e.message : String(e))}` };
  }
}
