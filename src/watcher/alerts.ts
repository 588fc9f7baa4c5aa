/**
 * Alerts on reload, as Reloader sends them (`ALERT_ON_RELOAD=true`,
 * `ALERT_SINK=slack|teams|gchat|webhook`, `ALERT_WEBHOOK_URL`,
 * `ALERT_ADDITIONAL_INFO`). Best effort: a failing sink is logged, never
 * retried, and never delays a reload.
 */
import { fetch } from 'undici';

export type AlertSinkKind = 'slack' | 'teams' | 'gchat' | 'webhook';

export interface AlertOptions {
  sink: AlertSinkKind;
  url: string;
  additionalInfo?: string;
  /** Per request; the sink is outside the cluster and may hang. */
  timeoutMs?: number;
}

/** The JSON body each sink expects for a text message. */
export function alertBody(sink: AlertSinkKind, text: string, fields: Record<string, string>): unknown {
  switch (sink) {
    case 'slack':
    case 'gchat':
      return { text };
    case 'teams':
      return { '@type': 'MessageCard', '@context': 'http://schema.org/extensions', summary: 'config-reloader', text };
    case 'webhook':
      return { text, ...fields };
  }
}

/** Send one alert; resolves to an error message or undefined. */
export async function sendAlert(o: AlertOptions, text: string, fields: Record<string, string>): Promise<string | undefined> {
  const full = o.additionalInfo ? `${text}\n${o.additionalInfo}` : text;
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alertBody(o.sink, full, fields)),
      signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
    });
    await res.text();
    return res.ok ? undefined : `alert sink answered ${res.status}`;
  } catch (e) {
    return (e as Error).message;
  }
}
