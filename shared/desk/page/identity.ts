/** The identity panel (right column): identities with trust and explanation, merges with unmerge, suggestions. */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { PersonView } from '../contract';
import { errorText, post } from './api';
import { cx, fullDate, when } from './util';

const TRUST_HELP: Record<string, string> = {
  verified: 'Verified: a signed identity (e.g. a web-chat user hash)',
  channel: 'Channel: the channel vouches for it (e.g. a WhatsApp phone number)',
  asserted: 'Asserted: typed by the customer, not verified',
};

function evidenceText(evidence: Record<string, unknown>): string {
  return Object.entries(evidence)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}

export function IdentityPanel({ person, onChanged, onError }: { person: PersonView; onChanged: () => void; onError: (msg: string) => void }) {
  const [busy, setBusy] = useState('');

  async function act(key: string, run: () => Promise<unknown>) {
    setBusy(key);
    try {
      await run();
      onChanged();
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy('');
    }
  }

  const merges = person.merges;
  return html`
    <aside class="side" aria-label="Identity">
      <section class="panel">
        <h2>Identities <span class="count">${person.identities.length}</span></h2>
        <ul class="identities">
          ${person.identities.map(
            (i) => html`<li key=${`${i.kind}:${i.scope}:${i.value}`} class="identity" data-test="identity-row" data-kind=${i.kind} data-trust=${i.trust}>
              <div class="identity-top">
                <span class="kind">${i.kind.replace(/_/g, ' ')}</span>
                <span class=${cx('badge', 'trust', `trust-${i.trust}`)} title=${TRUST_HELP[i.trust] ?? i.trust} data-test="identity-trust">${i.trust}</span>
                ${i.shared && html`<span class="badge warn" title=${i.shared}>shared</span>`}
              </div>
              <div class="identity-value">${i.value}</div>
              ${i.scope && html`<div class="muted small">scope: ${i.scope}</div>`}
              <div class="explain small" data-test="identity-explanation">${i.explanation}</div>
              <div class="muted small" title=${`first seen ${fullDate(i.firstSeenAt)}`}>last seen ${when(i.lastSeenAt)}</div>
            </li>`,
          )}
        </ul>
      </section>

      ${person.suggestions.length > 0 &&
      html`<section class="panel suggestions">
        <h2>Possible same person <span class="count">${person.suggestions.length}</span></h2>
        <ul>
          ${person.suggestions.map(
            (s) => html`<li key=${s.id} class="suggestion" data-test="suggestion" data-suggestion-id=${s.id}>
              <div><strong>${s.other.name || s.other.identities[0]?.value || s.other.id}</strong></div>
              <ul class="mini-ids">
                ${s.other.identities.map((i, n) => html`<li key=${n}><span class="kind">${i.kind}</span> ${i.value} <span class=${cx('badge', 'trust', `trust-${i.trust}`)}>${i.trust}</span></li>`)}
              </ul>
              <p class="explain small">${s.reason}</p>
              ${Object.keys(s.evidence).length > 0 && html`<p class="muted small">Evidence: ${evidenceText(s.evidence)}</p>`}
              <div class="btn-row">
                <button type="button" class="btn primary small" disabled=${!!busy} data-test="suggestion-accept"
                  onClick=${() => act(`a${s.id}`, () => post('merge-accept', { suggestionId: s.id }))}>${busy === `a${s.id}` ? 'Merging…' : 'Accept merge'}</button>
                <button type="button" class="btn small" disabled=${!!busy} data-test="suggestion-dismiss"
                  onClick=${() => act(`d${s.id}`, () => post('merge-dismiss', { suggestionId: s.id }))}>Dismiss</button>
              </div>
            </li>`,
          )}
        </ul>
      </section>`}

      ${merges.length > 0 &&
      html`<section class="panel">
        <h2>Merges <span class="count">${merges.length}</span></h2>
        <ul class="merges">
          ${merges.map(
            (m) => html`<li key=${m.id} class=${cx('merge', m.undoneAt && 'undone')} data-test="merge-row" data-merge-id=${m.id}>
              <p class="explain small">${m.explanation}</p>
              <p class="muted small">${m.rule} · by ${m.actor} · ${when(m.createdAt)}${m.undoneAt ? ` · undone ${when(m.undoneAt)}` : ''}</p>
              ${Object.keys(m.evidence).length > 0 && html`<p class="muted small">Evidence: ${evidenceText(m.evidence)}</p>`}
              ${!m.undoneAt &&
              html`<button type="button" class="btn small danger-outline" disabled=${!!busy} data-test="unmerge"
                onClick=${() => {
                  if (confirm('Unmerge? The merged contact and its identities are restored as a separate person.')) void act(`u${m.id}`, () => post('unmerge', { mergeId: m.id }));
                }}>${busy === `u${m.id}` ? 'Unmerging…' : 'Unmerge'}</button>`}
            </li>`,
          )}
        </ul>
      </section>`}

      ${Object.keys(person.contact.attributes).length > 0 &&
      html`<section class="panel">
        <h2>Attributes</h2>
        <dl class="attrs">
          ${Object.entries(person.contact.attributes).map(([k, v]) => html`<dt key=${`k${k}`}>${k}</dt><dd key=${`v${k}`}>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}
        </dl>
      </section>`}
    </aside>
  `;
}
