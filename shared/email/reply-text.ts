/**
 * The new part of an inbound customer email: quoted history and signature removed, and the phone
 * numbers of the signature kept apart. email-reply-parser (crisp-oss) knows the quote headers and
 * signature markers of many mail clients and languages; on top of it we handle what it does not:
 * headers it only sees after a blank line, Outlook header blocks in more languages, forwards,
 * bottom-posted replies and signatures that have no delimiter at all.
 *
 * The rule throughout: when in doubt, keep text. Only whole lines of the input are kept or dropped,
 * none is rewritten, so the result can never contain words the customer did not write.
 */
// email-reply-parser is an ES module; require() of it works on Node >= 22.12 (dist) and jest
// compiles it to CommonJS (see jest.config.js).
import EmailReplyParser from 'email-reply-parser';

export interface ReplyText {
  /** The new part only: no quoted history, no signature. Never empty when the mail has any text of its own (fall back to the trimmed whole text rather than ''). */
  text: string;
  /** The signature block that was removed, if any (for display and for the phone numbers). */
  signature?: string;
  /** Raw phone-number strings found in the signature ("+44 7911 123456", "030 1234567", "Tel: (415) 555-0132" -> the number part only), in order, without duplicates. */
  signaturePhones: string[];
}

// ---------------------------------------------------------------------------------------------
// Quote headers
// ---------------------------------------------------------------------------------------------

/** "On <date>, <name> wrote:" and translations. A digit is required so prose like "On Monday I wrote:" stays. */
const ATTRIBUTION = [
  /^On\b(?=.*\d).{0,300}\bwrote:?$/i, // en: Gmail, Apple Mail, Thunderbird
  /^Am\b(?=.*\d).{0,300}\bschrieb\b.{0,200}:$/i, // de
  /^Le\b(?=.*\d).{0,300}\ba\s+écrit\s*:$/i, // fr
  /^El\b(?=.*\d).{0,300}\bescribió\s*:$/i, // es
  /^Op\b(?=.*\d).{0,300}\bschreef\b.{0,200}:$/i, // nl
  /^(?:Den\b|\d{1,4}[-./ ]).{0,300}\bskrev\b.{0,200}:$/i, // sv
  /^Em\b(?=.*\d).{0,300}\bescreveu\s*:$/i, // pt
  /<[^<>\s]+@[^<>\s]+>\s*(?:wrote|schrieb|a écrit|escribió|schreef|skrev|escreveu)\s*:$/i, // any "<addr> wrote:"
];
const ATTRIBUTION_OPENER = /^(?:On|Am|Le|El|Op|Den|Em|\d{1,4}[-./ ])\s/i;
const SEPARATOR_LINES = [
  /^-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Originalnachricht|Message d'origine|Mensaje original|Oorspronkelijk bericht|Origineel bericht|Ursprungligt meddelande|Originalmeddelande|Mensagem original)\s*-{2,}$/i,
  /^-{2,}\s*(?:Forwarded message|Weitergeleitete Nachricht|Message transféré|Mensaje reenviado|Doorgestuurd bericht|Vidarebefordrat meddelande|Mensagem encaminhada)\s*-{2,}$/i,
  /^(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht|Début du message réexpédié|Inicio del mensaje reenviado|Begin doorgestuurd bericht|Vidarebefordrat brev|Início da mensagem reencaminhada)\s*:$/i,
  /^_{10,}$/, // Outlook's separator above its header block
];
/** Outlook's "From: / Sent: / To: / Subject:" block, also bold (*From:*) after an HTML-to-text conversion. */
const HEADER_FROM = /^\*?(?:From|Von|De|Van|Från|Da)\s?:\*?\s*\S/i;
const HEADER_NEXT =
  /^\*?(?:Sent|Date|To|Cc|Subject|Gesendet|Datum|An|Betreff|Envoyé|À|Objet|Enviado|Fecha|Para|Asunto|Verzonden|Aan|Onderwerp|Skickat|Till|Ämne)\s?:/i;
const QUOTED = /^\s*>/;

/** end: the first line after the quote: after its "> " block, or the end of the mail when it is not ">"-marked. */
type Quote = { start: number; end: number };

function isHeaderAt(lines: string[], i: number): 0 | 1 | 2 {
  const line = lines[i].trim();
  if (!line || QUOTED.test(line)) return 0;
  if (SEPARATOR_LINES.some((re) => re.test(line))) return 1;
  if (HEADER_FROM.test(line) && lines.slice(i + 1, i + 5).some((l) => HEADER_NEXT.test(l.trim()))) return 1;
  if (ATTRIBUTION.some((re) => re.test(line))) return 1;
  // Clients wrap long attributions: "On ..., Name <addr>" / "wrote:".
  const next = lines[i + 1]?.trim() ?? '';
  const two = `${line} ${next}`;
  return ATTRIBUTION_OPENER.test(line) && next && !QUOTED.test(next) && ATTRIBUTION.some((re) => re.test(two)) ? 2 : 0;
}

function quoteFrom(lines: string[], start: number, headerLines: number): Quote {
  let j = start + headerLines;
  while (j < lines.length && !lines[j].trim()) j++;
  if (j >= lines.length || !QUOTED.test(lines[j])) return { start, end: lines.length };
  let end = j;
  for (let k = j; k < lines.length; k++) {
    if (QUOTED.test(lines[k])) end = k + 1;
    else if (lines[k].trim()) break;
  }
  return { start, end };
}

const parser = new EmailReplyParser();
/** Its multi-line regexes (/^\s*.../m) are quadratic over long runs of lines: it sees the head only, blank runs collapsed. */
const LIBRARY_MAX_CHARS = 20_000;

/**
 * Where email-reply-parser finds the first quote header and the first signature marker, as line
 * indexes. Its fragments hold the input lines (right-trimmed, a wrapped header joined onto one line,
 * a leading blank line dropped; we also collapse blank runs), so the lines counted so far are a lower
 * bound of the real index, from which the fragment's first line is searched.
 */
function libraryCuts(lines: string[]): { quote?: { at: number; headerLines: number }; signature?: number } {
  const cuts: { quote?: { at: number; headerLines: number }; signature?: number } = {};
  let text = lines
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
  if (text.length > LIBRARY_MAX_CHARS) text = text.slice(0, text.lastIndexOf('\n', LIBRARY_MAX_CHARS));
  let fragments;
  try {
    fragments = parser.read(text).getFragments();
  } catch {
    return cuts; // a parser bug must not lose a customer's mail: our own detectors still run
  }
  let seen = 0;
  for (const fragment of fragments) {
    const content = fragment.getContent();
    const first = content.split('\n').find((l) => l.trim())?.trim() ?? '';
    // A real header carries a date or an address ("On Monday I wrote:" is prose), or is a "----" separator.
    const header = !QUOTED.test(first) && /\d|@|^-/.test(first);
    const wanted = fragment.isSignature() ? cuts.signature === undefined : fragment.isQuoted() && !cuts.quote && header;
    if (wanted && first) {
      const at = lines.findIndex((l, i) => i >= seen && l.trim() !== '' && first.startsWith(l.trim()));
      if (at >= 0 && fragment.isSignature()) cuts.signature = at;
      if (at >= 0 && !fragment.isSignature()) cuts.quote = { at, headerLines: first.length > lines[at].trim().length ? 2 : 1 };
    }
    seen += content.split('\n').length;
  }
  return cuts;
}

function findQuote(lines: string[], fromLibrary: ReturnType<typeof libraryCuts>['quote']): Quote | undefined {
  for (let i = 0; i < lines.length; i++) {
    if (fromLibrary && fromLibrary.at === i) return quoteFrom(lines, i, fromLibrary.headerLines);
    const headerLines = isHeaderAt(lines, i);
    if (headerLines) return quoteFrom(lines, i, headerLines);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------------

const DELIMITER = /^-- $/; // RFC 3676; a bare "--" may be a divider in the text, so only the library's guarded marker takes it
const MOBILE_FOOTER = new RegExp(
  '^(?:Sent from my|Sent with my|Von meinem|Gesendet von meinem|Envoyé de mon|Enviado desde mi|Verzonden vanaf mijn|Verstuurd vanaf mijn|Skickat från min|Enviado do meu)\\s+' +
    '(?=.*\\b(?:iPhone|iPad|iPod|Galaxy|Samsung|Android|BlackBerry|Huawei|Pixel|Xiaomi|OnePlus|Nokia|Motorola|mobile|Mobilgerät|Handy|smartphone|phone|tablet|portable|móvil|celular|mobiel|mobil)\\b)' +
    '[^.?!]{1,60}[.!]?$|^(?:Sent from (?:Mail|Outlook) for \\S.{0,40}|Get Outlook for \\S.{0,60}|Sent from Yahoo Mail\\b.{0,40})$',
  'i',
);
const VALEDICTION = new RegExp(
  `^(?:${[
    'thanks(?: (?:a lot|again|in advance|so much))?', 'thank you(?: (?:very much|so much|in advance))?', 'many thanks', 'best(?: wishes)?',
    'all the best', '(?:best|kind|warm|warmest|many)? ?regards', 'cheers', '(?:yours )?sincerely', 'yours truly', // en
    '(?:viele|beste|liebe|herzliche|freundliche) grü(?:ß|ss)e', 'mit freundlichen grü(?:ß|ss)en', 'lg', 'vg', 'mfg', 'gru(?:ß|ss)', 'grü(?:ß|ss)e',
    'danke(?: schön)?', 'vielen dank', // de
    '(?:bien )?cordialement', "merci(?: beaucoup| d'avance)?", 'bonne journée', 'bien à vous', // fr
    '(?:un )?saludos?(?: cordiales)?', '(?:muchas )?gracias', 'atentamente', 'un abrazo', // es
    'met vriendelijke groet(?:en)?', 'groet(?:en|jes)?', 'bedankt', // nl
    '(?:med )?vänliga hälsningar', 'hälsningar', 'mvh', 'tack', // sv
    'atenciosamente', 'obrigad[oa]', 'abraços', // pt
  ].join('|')})$`,
  'i',
);
/** "Thanks!", "Best regards,", "Cheers, Tom": a valediction, optionally with a (capitalised) name on the same line. */
function isValediction(line: string): boolean {
  const [head, ...rest] = line.trim().replace(/[\s,.!]+$/, '').split(',');
  const name = rest.join(',').trim();
  return VALEDICTION.test(head.trim()) && (!name || /^\p{Lu}[\p{L}.'-]*(?:\s+\p{Lu}[\p{L}.'-]*){0,2}$/u.test(name));
}
/** A whole-word alternation; JavaScript's \b treats é, ä, ß as non-word characters, so letters are looked around instead. */
const wordsRe = (alternatives: string): RegExp => new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives})(?![\\p{L}\\p{N}])`, 'iu');
/** Valedictions that say something ("Thanks!"), unlike "Best regards": kept when they follow only a greeting. */
const THANKS = /^(?:thanks|thank you|many thanks|danke|vielen dank|merci|gracias|muchas gracias|obrigad[oa]|tack|bedankt)/i;
const GREETING = /^(?:hi|hello|hey|dear|hallo|guten (?:tag|morgen)|liebe[rs]?|sehr geehrte[rs]?|bonjour|salut|hola|buen[oa]s (?:días|tardes)|estimad[oa]s?|hej|hoi|beste|olá|oi)(?![\p{L}])[^.?!]{0,40}[,!:]?$/iu;

/** Numbers that are not phones: order and customer numbers, registry and tax ids, bank details. */
const NOT_PHONE = new RegExp(
  `#|${wordsRe(
    'orders?|bestell\\p{L}*|auftrag\\p{L}*|commande|pedido|invoice|rechnung\\p{L}*|facture|factura|ticket|ref|reference|referenz|kunden(?:nummer|nr)|' +
      'customer (?:no|number|id)|account (?:no|number|id)|konto\\p{L}*|iban|bic|swift|vat|ust-?id\\p{L}*|tracking|sendung\\p{L}*|registered|reg|' +
      'company no|hrb|siret|siren|cif|nif|kvk|org\\.?\\s?nr|steuer\\p{L}*|tax',
  ).source}`,
  'iu',
);
// A digit run with the separators phone numbers use; digits are counted (7 to 15) after matching.
const PHONE = /(?<![\w+])(?:\+\s?|00)?(?:\(\d{1,5}\)\s?)?\d(?:[\d\u00a0 ().\/-]*\d)?(?!\w)/g;
const DATE_LIKE = /^\d{1,4}([./-])\d{1,2}\1\d{1,4}$/;
/** A label right before a number ("Tel.: 030 ...", "M: +44 ..."); "my phone number is ..." is prose, not a label. */
const PHONE_LABEL = new RegExp(
  `${wordsRe('tel|tél|téléphone|phone|mob|mobile|cell|fax|telefon|mobil|handy|móvil|movil|teléfono|telefone|portable|celular|whatsapp|[tmpf]').source}\\.?\\s*[:.]?\\s*[+(\\d]`,
  'iu',
);
const STRONG_MARKER = /[\w.+-]+@[\w-]+\.[\w.-]+|\bwww\.|https?:\/\/|\|/i;
const JOB_TITLE = wordsRe(
  'manager|director|directora|directeur|directrice|head of|lead|engineer|ceo|cto|cfo|coo|founder|co-founder|owner|consultant|specialist|assistant|' +
    'coordinator|officer|president|vp|executive|analyst|developer|designer|partner|accountant|administrator|representative|geschäftsführer(?:in)?|' +
    'leiter(?:in)?|inhaber(?:in)?|vertrieb|responsable|chargée?|gérante?|ingénieur|gerente|jefe|jefa|ingenier[oa]|coordinador(?:a)?|asistente|comercial',
);
const CONNECTORS = new Set(['of', 'and', 'the', 'for', 'at', 'de', 'du', 'des', 'la', 'le', 'y', 'del', 'von', 'der', 'für', 'und', 'van', 'och', 'för', 'e', 'da', 'do']);

/** The phone numbers of one line, raw, only when the line is not about orders, ids or bank details. */
function phonesIn(line: string): string[] {
  if (NOT_PHONE.test(line)) return [];
  return [...line.matchAll(PHONE)]
    .map((m) => m[0].trim())
    .filter((p) => {
      const digits = p.replace(/\D/g, '').length;
      // Contiguous digits without a leading + or 0 look like an id, not a phone.
      return digits >= 7 && digits <= 15 && !DATE_LIKE.test(p) && (/^[+(0]/.test(p) || /[\s().\/-]/.test(p));
    });
}
const words = (line: string): string[] => line.trim().split(/\s+/).filter(Boolean);

/** A phone that makes up the line or one of its "|" parts ("Mobile: 0171 5551234", "Maya | +44 ..."), not one inside a sentence. */
function isPhoneLine(line: string): boolean {
  return line.split(/\s[|•·]\s/).some((part) => {
    const phones = phonesIn(part);
    const rest = phones.reduce((l, p) => l.replace(p, ' '), part);
    return phones.length > 0 && (PHONE_LABEL.test(part) || words(rest.replace(/[:,/]/g, ' ')).length <= 2);
  });
}
/** Something only signatures have: a phone line, an address, a URL, "|" separators or a job title. */
const hasContactMarker = (line: string): boolean => isPhoneLine(line) || STRONG_MARKER.test(line) || JOB_TITLE.test(line);

/** Could be a line of a signature (name, role, company, phone, URL, address), rather than prose. */
function isSignatureLine(line: string): boolean {
  const t = line.trim();
  if (!t || isValediction(t)) return true;
  if (t.includes('?') || /^p\.?\s?s\b/i.test(t) || NOT_PHONE.test(t)) return false;
  if (phonesIn(t).length && !isPhoneLine(t)) return false; // "call me on +44 ... tomorrow"
  const strong = isPhoneLine(t) || STRONG_MARKER.test(t);
  const w = words(t);
  if (t.length > (strong ? 120 : 70) || (!strong && w.length > 8)) return false;
  if (!strong && /[.!:;]$/.test(t) && w.length >= 4) return false;
  // Prose is mostly lower-case words ("works now", "you can reach me at ..."); names, roles, companies
  // and addresses are capitalised. Only plain words count: not numbers, addresses, URLs or separators.
  const plain = w.map((x) => x.replace(/[,.;:]+$/, '')).filter((x) => /^\p{L}+$/u.test(x) && !CONNECTORS.has(x.toLowerCase()));
  const lower = plain.filter((x) => /^\p{Ll}/u.test(x)).length;
  if (JOB_TITLE.test(t) || plain.length === 0) return true;
  if (plain.length === 1) return lower === 0 || strong; // "Maya" or "Acme", not "ok"
  return lower * 2 < plain.length;
}

/** A short block of signature lines: at most 6 non-blank lines, all signature-like. */
function isSignatureBlock(block: string[]): boolean {
  return block.filter((l) => l.trim()).length <= 6 && block.every(isSignatureLine);
}

/** Where the signature starts in the own lines (own.length when there is none). The topmost accepted marker wins. */
function signatureStart(own: string[], libraryMarker: number | undefined): number {
  const strong = own.findIndex((l) => DELIMITER.test(l) || MOBILE_FOOTER.test(l.trim()));
  const limit = strong < 0 ? own.length : strong;
  const candidates = [limit];
  // A valediction followed by a short block of signature lines; the topmost such valediction.
  for (let i = limit - 1, block = 0; i >= 0; i--) {
    if (isValediction(own[i])) candidates.push(i);
    if (!isSignatureLine(own[i]) || (own[i].trim() && ++block > 6)) break;
  }
  // The last paragraph, after a blank line, when it is a signature block with a contact marker.
  const lastText = own.slice(0, limit).findLastIndex((l) => l.trim());
  const blank = own.slice(0, lastText).findLastIndex((l) => !l.trim());
  const paragraph = own.slice(blank + 1, limit);
  if (blank > 0 && own.slice(0, blank).some((l) => l.trim()) && isSignatureBlock(paragraph) && paragraph.some(hasContactMarker)) {
    candidates.push(blank + 1);
  }
  // email-reply-parser's markers ("Regards,", "Sent from ...", "--"), checked like ours: never over prose.
  if (libraryMarker !== undefined && libraryMarker < limit && isSignatureBlock(own.slice(libraryMarker, limit))) candidates.push(libraryMarker);
  return Math.min(...candidates);
}

// ---------------------------------------------------------------------------------------------
// Putting it together
// ---------------------------------------------------------------------------------------------

const tidy = (lines: string[]): string =>
  lines
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();

function newPart(lines: string[], depth = 0): ReplyText | undefined {
  const library = libraryCuts(lines);
  const quote = findQuote(lines, library.quote);
  const before = lines.slice(0, quote?.start ?? lines.length);
  const ownIndexes = before.map((l, i) => (QUOTED.test(l) ? -1 : i)).filter((i) => i >= 0);
  const own = ownIndexes.map((i) => lines[i]);
  if (!own.some((l) => l.trim())) {
    // Nothing above the quote: a bottom-posted reply (Thunderbird's default) continues below its "> " block.
    return quote && quote.end < lines.length && depth < 3 ? newPart(lines.slice(quote.end), depth + 1) : undefined;
  }
  const { signature: librarySignature } = library;
  const libraryMarker = librarySignature === undefined ? -1 : ownIndexes.findIndex((i) => i >= librarySignature);
  const at = signatureStart(own, libraryMarker === -1 ? undefined : libraryMarker);
  let body = own.slice(0, at);
  let signature = own.slice(at);
  const empty = body.every((l) => !l.trim());
  if (empty || body.every((l) => !l.trim() || GREETING.test(l.trim()))) {
    const closing = own[at]?.trim() ?? '';
    if (isValediction(closing) && (empty || THANKS.test(closing))) {
      // "Thanks!" is the whole message (or all of it after "Hi,"): keep it, drop only what is under it.
      body = own.slice(0, at + 1);
      signature = own.slice(at + 1);
    } else if (!isValediction(closing) && !MOBILE_FOOTER.test(closing)) {
      // Nothing but a greeting above a delimiter or contact lines: keep everything rather than nothing. (A mobile
      // footer is never something the customer said: it goes even then.)
      body = own;
      signature = [];
    }
  }
  const sig = tidy(signature);
  const phones = [...new Set(signature.filter(isPhoneLine).flatMap(phonesIn))];
  return { text: tidy(body), ...(sig ? { signature: sig } : {}), signaturePhones: phones };
}

/** The new part of a plain-text email body: no quoted history, no signature; the signature's phone numbers apart. */
export function extractReplyText(text: string): ReplyText {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const found = newPart(lines);
  return found?.text ? found : { text: text.trim(), signaturePhones: [] };
}
