/**
 * The Omnithread Desk page (browser code): Preact + htm, uPlot for charts, bundled by scripts/build-desk.js
 * into dist/desk/app.js and app.css. It talks to the JSON API of ../contract.ts on its own path (`?op=...`).
 * Typechecked with shared/desk/page/tsconfig.json (lib dom); the package's Node build excludes this folder.
 *
 * Stable selectors for browser tests (`data-test="..."`):
 *
 *   Sign-in      signin-form, signin-agent, signin-password, signin-submit, signin-error
 *   Header       nav-inbox, nav-metrics, nav-agents (admins only), me-name, live, signout, toast
 *   Inbox        queue-waiting, queue-mine, queue-open, queue-resolved (tabs, data-queue),
 *                queue-count-<queue>, inbox-search, inbox-list, inbox-more,
 *                inbox-row (data-conversation-id, data-contact-id), row-sla (data-breached), row-priority, row-intent
 *   Person       no-person, person (data-contact-id), person-name, timeline, load-older,
 *                episode (data-conversation-id, data-status), episode-select, episode-handoff,
 *                event (data-kind, data-event-id; messages also data-direction), event-status (data-status),
 *                event-edited, csat-score
 *   Identity     identity-row (data-kind, data-trust), identity-trust, identity-explanation,
 *                suggestion (data-suggestion-id), suggestion-accept, suggestion-dismiss,
 *                merge-row (data-merge-id), unmerge
 *   Composer     composer, composer-text, channel-select, channel-window, note-toggle, send, composer-error
 *   Actions      action-assign, action-accept, action-release, action-resolve, action-csat, action-transfer,
 *                transfer-form, transfer-agent, transfer-queue, transfer-reason, transfer-submit
 *   Metrics      metrics, metrics-period, metrics-bucket, metrics-channel, metrics-agent,
 *                metric-conversations, metric-frt, metric-resolution, metric-handle, metric-messages,
 *                metric-repeat, metric-switches, metric-csat, metric-ai-share,
 *                chart-times, chart-volume, chart-distribution, dist-<firstResponseSeconds|resolutionSeconds|handleSeconds>,
 *                metrics-definitions
 *   Agents       agents, agent-row (data-agent-id), agent-role, agent-password, agent-save, agent-link,
 *                agent-revoke, agent-link-box, agent-link-url, agent-link-copy
 */
import { html } from 'htm/preact';
import { render } from 'preact';
import { App } from './app';

const root = document.getElementById('desk') ?? document.body.appendChild(document.createElement('div'));
root.textContent = '';
render(html`<${App} />`, root);
