/**
 * Alerts on reload, as Reloader sends them (`ALERT_ON_RELOAD=true`,
 * `ALERT_SINK=slack|teams|gchat|webhook`, `ALERT_WEBHOOK_URL`,
 * `ALERT_ADDITIONAL_INFO`). Best effort: a failing sink is logged, never
 * retried, and never delays a reload.
 */
import { postJson } from './post-json.ts';

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
    const status = await postJson(o.url, alertBody(o.sink, full, fields), o.timeoutMs ?? 5000);
    return status >= 200 && status < 300 ? undefined : `alert sink answered ${status}`;
  } catch (e) {
    return (e as Error).message;
  }
}
