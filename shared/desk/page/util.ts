/** Formatting, channel badges and the shared one-second clock of the desk page. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';

// ---------------------------------------------------------------------------------------------
// Server time: the wait and SLA clocks count against the server's clock (Me.now), not a skewed laptop's.
// ---------------------------------------------------------------------------------------------

let skewMs = 0;
export function syncClock(serverNowIso: string): void {
  const server = Date.parse(serverNowIso);
  if (Number.isFinite(server)) skewMs = server - Date.now();
}
export function serverNow(): number {
  return Date.now() + skewMs;
}

const subscribers = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;

/** Re-renders the calling component every second (one interval for the whole page). */
export function useTick(): number {
  const [, setN] = useState(0);
  useEffect(() => {
    const bump = () => setN((n) => n + 1);
    subscribers.add(bump);
    if (!timer) timer = setInterval(() => subscribers.forEach((s) => s()), 1000);
    return () => {
      subscribers.delete(bump);
      if (!subscribers.size && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    };
  }, []);
  return serverNow();
}

// ---------------------------------------------------------------------------------------------
// Dates and durations, in the viewer's locale
// ---------------------------------------------------------------------------------------------

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** Time only when today, else date and time. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date(serverNow());
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}
export function fullDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : fullFmt.format(d);
}
export function day(ms: number): string {
  return dayFmt.format(new Date(ms));
}

/** 45s, 12m, 3h 05m, 2d 4h. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A live clock: "12m" since a time, or "-3m" / "in 3m" until one. */
export function since(iso: string, now: number): number {
  return (now - Date.parse(iso)) / 1000;
}

export function percent(share: number | null | undefined): string {
  return share === null || share === undefined || !Number.isFinite(share) ? '–' : `${Math.round(share * 1000) / 10}%`;
}
export function num(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

// ---------------------------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------------------------

export const CHANNELS = ['webchat', 'email', 'whatsapp', 'telegram', 'messenger', 'instagram', 'sms', 'voice', 'x', 'generic'] as const;

const CHANNEL_META: Record<string, { label: string; abbr: string; color: string }> = {
  webchat: { label: 'Web chat', abbr: 'Chat', color: '#2563eb' },
  email: { label: 'Email', abbr: '@', color: '#b45309' },
  whatsapp: { label: 'WhatsApp', abbr: 'WA', color: '#15803d' },
  telegram: { label: 'Telegram', abbr: 'TG', color: '#0284c7' },
  messenger: { label: 'Messenger', abbr: 'FB', color: '#7c3aed' },
  instagram: { label: 'Instagram', abbr: 'IG', color: '#c026d3' },
  sms: { label: 'SMS', abbr: 'SMS', color: '#0f766e' },
  voice: { label: 'Voice', abbr: '☎', color: '#be123c' },
  x: { label: 'X', abbr: '𝕏', color: '#111827' },
  generic: { label: 'Generic', abbr: 'API', color: '#4b5563' },
};

export function channelLabel(channel: string | null | undefined): string {
  if (!channel) return 'unknown channel';
  return CHANNEL_META[channel]?.label ?? channel;
}

/** A small coloured badge naming the channel (its full name for screen readers and as a tooltip). */
export function ChannelIcon({ channel }: { channel: string | null | undefined }) {
  const meta = (channel && CHANNEL_META[channel]) || { label: channel ?? 'unknown', abbr: (channel ?? '?').slice(0, 3).toUpperCase(), color: '#6b7280' };
  return html`<span class="ch" style=${{ '--ch': meta.color }} title=${meta.label} aria-label=${meta.label} role="img" data-channel=${channel ?? ''}>${meta.abbr}</span>`;
}

const ICONS = {
  clock: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13ZM8 4v4l2.5 1.5',
  clip: 'M10.5 4.5 5.6 9.4a1.4 1.4 0 0 0 2 2l5-5a2.8 2.8 0 0 0-4-4l-5 5a4.2 4.2 0 0 0 6 6l4.4-4.4',
  lock: 'M4.5 7V5a3.5 3.5 0 0 1 7 0v2M3.5 7h9v6.5h-9z',
  mail: 'M2 3.5h12v9H2zM2 4l6 4.5L14 4',
  info: 'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13ZM8 7v4.5M8 4.6v.1',
} as const;

/** A small line icon (inline SVG, so nothing is fetched and no emoji font is needed). */
export function Icon({ name }: { name: keyof typeof ICONS }) {
  return html`<svg class="icon" viewBox="0 0 16 16" width="13" height="13" aria-hidden="true" focusable="false"
    fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"><path d=${ICONS[name]} /></svg>`;
}

export function initials(name: string | null | undefined): string {
  const parts = (name ?? '?').trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

/** Class names, dropping falsy ones. */
export function cx(...names: (string | false | null | undefined)[]): string {
  return names.filter(Boolean).join(' ');
}
