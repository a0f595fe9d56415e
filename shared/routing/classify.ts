/**
 * Classification: what a customer message is about (intent), in which language, in which mood
 * (sentiment), how urgent, and whether the customer asked for a person (DESIGN.md, Routing, step 1).
 *
 * - `classifyWithRules`: offline and deterministic. User-defined intents (keywords and regex patterns,
 *   word-boundary, case- and accent-insensitive), stop-word language detection, a small lexicon
 *   sentiment with negation and intensifiers, urgent keywords and explicit requests for a human.
 * - `classifyWithLlm`: any OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, LiteLLM...)
 *   through axios, with a timeout and retries; every failure falls back to the rules.
 * - `classifyWithChatModel`: an n8n Chat Model sub-node (a LangChain chat model), duck-typed so the core
 *   has no LangChain dependency; same validation and fallback.
 * - `classify`: chat model first if given, else the LLM if given, else the rules.
 */
import axios, { type AxiosError, type AxiosInstance } from 'axios';
import { z } from 'zod';
import { OmnithreadError, invalidInput } from '../errors';
import { parseInput } from '../model';
import { retryAfterSeconds } from '../channels/http';
import { SentimentSchema, UrgencySchema, type Classification, type Sentiment, type Urgency } from './types';

// ---------------------------------------------------------------------------------------------
// Rules schema
// ---------------------------------------------------------------------------------------------

/** A regex source, compiled case-insensitive and Unicode-aware; an invalid one is an INVALID_INPUT naming its field. */
const RegexSourceSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(1000)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'iu');
    } catch (error) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is not a valid regular expression: ${(error as Error).message}` });
    }
  });

const WordSchema = z.string().trim().min(1, 'must not be empty').max(200);

export const IntentRuleSchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(64)
      .refine((name) => name.toLowerCase() !== 'other', 'is reserved: "other" is what classification says when no intent matched'),
    keywords: z.array(WordSchema).max(500).default([]),
    patterns: z.array(RegexSourceSchema).max(100).default([]),
    /** Breaks ties between intents with the same score: higher wins. */
    priority: z.number().finite().default(0),
    /** The urgency a message of this intent has when no urgent keyword says more. */
    urgency: UrgencySchema.optional(),
  })
  .strict();

export const ClassifierRulesSchema = z
  .object({
    intents: z.array(IntentRuleSchema).max(200).default([]),
    /** More regex sources that mean "I want a person", on top of the built-in ones. */
    humanRequestPatterns: z.array(RegexSourceSchema).max(100).default([]),
    /** More words or phrases that make a message urgent, on top of the built-in ones. */
    urgentKeywords: z.array(WordSchema).max(500).default([]),
    negativeWords: z.array(WordSchema).max(1000).default([]),
    positiveWords: z.array(WordSchema).max(1000).default([]),
  })
  .strict()
  .superRefine((rules, ctx) => {
    const seen = new Map<string, number>();
    rules.intents.forEach((intent, i) => {
      const key = intent.name.toLowerCase();
      if (seen.has(key)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['intents', i, 'name'], message: `duplicates intents.${seen.get(key)}.name "${intent.name}"` });
      } else seen.set(key, i);
    });
  });
export type ClassifierRules = z.output<typeof ClassifierRulesSchema>;
export type ClassifierRulesInput = z.input<typeof ClassifierRulesSchema>;

export interface ClassifyHints {
  /** The language the channel knows (a WhatsApp profile locale, an email's Content-Language): wins over detection. */
  language?: string;
}

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

/** Lower case, accents stripped ("Rückerstattung" -> "ruckerstattung", "Ñ" -> "n"), ß -> ss. */
export function foldText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase().replace(/ß/g, 'ss').normalize('NFC');
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A word or phrase as a word-boundary regex over folded text (spaces match any whitespace). */
function phraseRegex(phrase: string): RegExp {
  const body = foldText(phrase).trim().split(/\s+/).map(escapeRegex).join('\\s+');
  return new RegExp(`(?<![\\p{L}\\p{N}])${body}(?![\\p{L}\\p{N}])`, 'iu');
}

/** A built-in pattern source over folded text, anchored at word boundaries. */
const bounded = (source: string): RegExp => new RegExp(`(?<![\\p{L}\\p{N}])(?:${source})(?![\\p{L}\\p{N}])`, 'iu');

/** Tokens: letters only, lower case, accents kept; "don't" -> "do", "not". */
function tokens(text: string, fold = false): string[] {
  const lower = text.toLowerCase().normalize('NFC').replace(/n[’']t\b/g, ' not');
  const base = fold ? foldText(lower) : lower;
  return base.split(/[^\p{L}\p{M}]+/u).filter(Boolean);
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

// ---------------------------------------------------------------------------------------------
// Language
// ---------------------------------------------------------------------------------------------

/** Frequent function words per language (lower case, accents kept). Shared words count for each, at a share. */
const STOP_WORDS: Record<string, string[]> = {
  en: 'the and is are was were i you he she it we they my your this that with for not have has do does did to of in on at be can please would what where when how there me an but from will just been about our thanks thank hello hi yet still any why who which'.split(' '),
  de: 'der die das und ist ich nicht ein eine einen einem mit auf für sie wir es zu den dem des von mein meine meinen bitte habe hat sind war auch noch wie was kann können aber oder sehr danke hallo mir mich dass wenn schon nur keine kein ihr uns heute immer bei nach wurde möchte warum wo'.split(' '),
  fr: 'le la les et est je vous nous il elle ne pas une un des du de pour avec sur mon ma mes votre vos que qui ce cette suis ai avez bonjour merci très mais ou dans au aux sont être j l d c n qu s toujours rien depuis pourquoi où'.split(' '),
  es: 'el la los las y es que de en un una por para con no mi mis su lo ha han he pero como esta está estoy muy hola gracias tengo quiero necesito más del al se me ya hay usted favor porque cuando donde dónde todo todavía nada qué cómo'.split(' '),
  nl: 'de het een en is ik niet van dat die met op voor zijn je jij u we wij mijn maar ook nog wel geen heb heeft kan kunt graag bedankt dank hallo alstublieft naar om te er hoe wat waar als dit deze bij uit al nu mijn waarom nooit'.split(' '),
  pt: 'o a os as e do da dos das em no na um uma que não para com por meu minha você eu esta está estou muito obrigado obrigada olá mas se seu sua ao isso isto tenho quero preciso pelo pela já também foi são ainda nada porque'.split(' '),
  it: 'il lo la gli le e è di che non un una per con sono mio mia del della dei delle nel nella ho ha mi ti ci grazie ciao buongiorno vorrei questo questa perché come ma anche molto sempre già al alla io lei voi ancora niente'.split(' '),
  sv: 'och att det som en ett är jag du vi ni inte med för på av till den har kan min mitt mina er hej tack men om eller så var vad hur när mycket också bara nu hjälp vill skulle finns varför ingen'.split(' '),
};

/** Letters that all but name a language. */
const LANGUAGE_LETTERS: Array<[RegExp, Record<string, number>]> = [
  [/ß/g, { de: 1.5 }],
  [/[äöü]/g, { de: 0.4, sv: 0.3 }],
  [/å/g, { sv: 1.5 }],
  [/[ñ¿¡]/g, { es: 1.5 }],
  [/[ãõ]/g, { pt: 1.5 }],
  [/ç/g, { fr: 0.5, pt: 0.5 }],
  [/[èêë]/g, { fr: 0.5, it: 0.2 }],
  [/ij/g, { nl: 0.3 }],
];

const STOP_INDEX: Map<string, string[]> = (() => {
  const index = new Map<string, string[]>();
  for (const [lang, words] of Object.entries(STOP_WORDS)) {
    for (const word of new Set(words)) index.set(word, [...(index.get(word) ?? []), lang]);
  }
  return index;
})();

export const SUPPORTED_LANGUAGES = Object.keys(STOP_WORDS);

/** A language hint as a BCP-47-ish lower-case code ("pt_BR" -> "pt-br"), or undefined when it is not one. */
export function normalizeLanguage(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const code = value.trim().toLowerCase().replace(/_/g, '-');
  return /^[a-z]{2,3}(-[a-z0-9]{1,8})*$/.test(code) ? code : undefined;
}

export function detectLanguage(text: string): { language: string; score: number; words: string[] } {
  const scores: Record<string, number> = {};
  const matched: Record<string, string[]> = {};
  for (const token of tokens(text)) {
    const langs = STOP_INDEX.get(token);
    if (!langs) continue;
    for (const lang of langs) {
      scores[lang] = (scores[lang] ?? 0) + 1 / langs.length;
      (matched[lang] ??= []).push(token);
    }
  }
  const lower = text.toLowerCase();
  const letters: Record<string, number> = {};
  for (const [regex, weights] of LANGUAGE_LETTERS) {
    const count = Math.min(3, (lower.match(regex) ?? []).length);
    if (!count) continue;
    for (const [lang, weight] of Object.entries(weights)) {
      scores[lang] = (scores[lang] ?? 0) + count * weight;
      letters[lang] = (letters[lang] ?? 0) + count * weight;
    }
  }
  const ranked = Object.entries(scores).sort((a, b) => b[1] - a[1]);
  const [best, second] = ranked;
  // Unsure: too little evidence (one stop word proves nothing), or a near tie.
  const enough = best && best[1] >= 1 && ((matched[best[0]]?.length ?? 0) >= 2 || (letters[best[0]] ?? 0) >= 1.5);
  if (!best || !enough || (second && best[1] < second[1] * 1.25 + 0.25)) return { language: 'und', score: best?.[1] ?? 0, words: [] };
  return { language: best[0], score: best[1], words: [...new Set(matched[best[0]] ?? [])] };
}

// ---------------------------------------------------------------------------------------------
// Sentiment
// ---------------------------------------------------------------------------------------------

const NEGATIVE_WORDS = `
bad terrible awful horrible angry upset annoyed annoying frustrated frustrating disappointed disappointing unhappy worst hate hated
broken useless poor ridiculous unacceptable wrong failed fails scam rude waste sucks disgusting furious sad pathetic mad
schlecht schlechter schrecklich furchtbar enttauscht argerlich wutend kaputt unzufrieden katastrophe katastrophal unverschamt mies nervig
sauer traurig unmoglich inakzeptabel frechheit
mauvais mauvaise nul nulle decu decue decevant furieux furieuse inacceptable mecontent mecontente arnaque honteux deplorable pire
enerve enervee triste lamentable
malo mala pesimo pesima enojado enojada enfadado enfadada decepcionado decepcionada molesto molesta inaceptable roto rota peor fatal
estafa triste horrible terrible vergonzoso
slecht boos teleurgesteld waardeloos ruim
pessimo pessima irritado chateado decepcionante
brutto pessimo arrabbiato deluso
dalig arg besviken
`;
const POSITIVE_WORDS = `
good great excellent awesome amazing happy glad love loved perfect wonderful fantastic helpful satisfied pleased nice best brilliant
gut super toll prima zufrieden perfekt hervorragend ausgezeichnet freundlich klasse wunderbar froh glucklich
bon bonne bien parfait parfaite excellent excellente genial content contente satisfait satisfaite heureux heureuse formidable ravi ravie
bueno buena bien genial excelente perfecto perfecta contento contenta satisfecho satisfecha feliz encantado encantada maravilloso estupendo
goed geweldig tevreden blij fijn
otimo otima feliz satisfeito
ottimo ottima contento felice
bra nojd
`;
/** Gratitude counts, but less than an opinion: "thanks, but it is still broken" is not positive. */
const GRATITUDE_WORDS = 'thanks thank thx merci danke gracias obrigado obrigada grazie bedankt tack appreciate appreciated'.split(' ');
const NEGATORS = new Set(
  'not no never nothing hardly nicht kein keine keinen nie niemals ne pas jamais nunca tampoco ni nao nem non niet geen nooit inte aldrig'.split(' '),
);
const INTENSIFIERS = new Set('very so really extremely totally absolutely sehr total wirklich extrem tres vraiment muy realmente super heel echt molto muito mycket'.split(' '));

const wordSet = (text: string): Set<string> => new Set(text.split(/\s+/).filter(Boolean).map(foldText));

function sentimentOf(text: string, extraNegative: string[], extraPositive: string[]): { sentiment: Sentiment; score: number; reasons: string[] } {
  const negative = wordSet(NEGATIVE_WORDS);
  const positive = wordSet(POSITIVE_WORDS);
  const gratitude = new Set(GRATITUDE_WORDS);
  const words = tokens(text, true);
  const reasons: string[] = [];
  let score = 0;
  // Multi-word extras ("not worth it", "well done") are matched as phrases.
  const extraPhrase = (list: string[], sign: number) => {
    for (const phrase of list) {
      if (/\s/.test(phrase.trim()) && phraseRegex(phrase).test(foldText(text))) {
        score += sign;
        reasons.push(`${sign > 0 ? '+' : '-'}"${phrase}"`);
      }
    }
  };
  for (const w of extraNegative) if (!/\s/.test(w.trim())) negative.add(foldText(w.trim()));
  for (const w of extraPositive) if (!/\s/.test(w.trim())) positive.add(foldText(w.trim()));
  extraPhrase(extraNegative, -1);
  extraPhrase(extraPositive, 1);
  words.forEach((word, i) => {
    let value = negative.has(word) ? -1 : positive.has(word) ? 1 : gratitude.has(word) ? 0.5 : 0;
    if (!value) return;
    const before = words.slice(Math.max(0, i - 3), i);
    const negated = before.some((w) => NEGATORS.has(w));
    const intensified = i > 0 && INTENSIFIERS.has(words[i - 1]!);
    if (intensified) value *= 1.5;
    if (negated) value = value > 0 ? -value : 0.5 * -value; // "not happy" is negative; "not bad" barely positive
    score += value;
    reasons.push(`${value > 0 ? '+' : '-'}"${negated ? 'not ' : ''}${word}"`);
  });
  const letters = text.replace(/[^\p{L}]/gu, '');
  const upper = text.replace(/[^\p{Lu}]/gu, '');
  const shouting = letters.length >= 8 && upper.length / letters.length > 0.7;
  const exclaims = /!{2,}/.test(text);
  if (shouting || exclaims) {
    if (score !== 0) score *= 1.5;
    else if (shouting && exclaims) score = -1; // "WHERE IS MY ORDER!!!"
    reasons.push(shouting && exclaims ? 'shouting and "!!"' : shouting ? 'shouting' : '"!!"');
  }
  const sentiment: Sentiment = score >= 1 ? 'positive' : score <= -1 ? 'negative' : 'neutral';
  return { sentiment, score: round2(score), reasons };
}

// ---------------------------------------------------------------------------------------------
// Urgency and requests for a person
// ---------------------------------------------------------------------------------------------

const URGENT_KEYWORDS = [
  'urgent', 'urgently', 'asap', 'a.s.a.p', 'immediately', 'emergency', 'right now', 'right away', 'as soon as possible', 'critical',
  'dringend', 'sofort', 'eilig', 'notfall', 'unverzüglich', 'schnellstmöglich',
  'urgence', 'urgente', 'immédiatement', 'tout de suite', 'au plus vite',
  'urgencia', 'inmediatamente', 'cuanto antes', 'lo antes posible', 'urgentemente',
  'spoed', 'meteen', 'onmiddellijk', 'zo snel mogelijk',
  'imediatamente', 'urgentíssimo', 'o mais rápido possível',
  'urgentissimo', 'subito', 'immediatamente',
  'brådskande', 'akut', 'omedelbart', 'genast',
];

/** Explicit requests for a person, over folded text (lower case, no accents). */
const HUMAN_PATTERNS = [
  // en
  '(?:talk|speak|chat)\\s+(?:to|with)\\s+(?:an?\\s+|some\\s+|the\\s+|your\\s+)?(?:real\\s+|live\\s+|actual\\s+)?(?:human|person|agent|representative|operator|someone|somebody|staff|manager|people)',
  '(?:real|actual|live)\\s+(?:person|human|people|agent)',
  '(?:human|live)\\s+(?:agent|support|operator|being)',
  '(?:agent|human|representative|operator)\\s*,?\\s*(?:please|pls|now)',
  '(?:want|need|get\\s+me)\\s+(?:an?\\s+)?(?:human|person|agent|representative)',
  'not\\s+(?:a|an|this|the)\\s+(?:bot|robot|machine)',
  // de
  'mit\\s+(?:einem|einer|einen)\\s+(?:echten\\s+|richtigen\\s+)?(?:menschen|mensch|mitarbeiter|mitarbeiterin|person|berater|beraterin|agenten)',
  'mit\\s+jemandem\\s+(?:sprechen|reden|telefonieren)',
  '(?:echten|echte|echter|richtigen)\\s+(?:menschen|mensch|person|mitarbeiter)',
  'keinen?\\s+(?:bot|roboter|chatbot)',
  // fr
  'un\\s+(?:vrai\\s+)?humain',
  '(?:parler|discuter)\\s+(?:a|avec)\\s+(?:un|une|quelqu\\W?un)',
  '(?:vraie?|veritable)\\s+(?:personne|humain|conseiller|conseillere)',
  '(?:un|une)\\s+(?:conseiller|conseillere|operateur|operatrice)',
  // es
  '(?:hablar|comunicarme|chatear)\\s+con\\s+(?:un|una|alguien|el\\s+personal|una?\\s+persona)',
  '(?:persona|agente|humano)\\s+(?:real|humano)',
  // nl
  '(?:spreken|praten)\\s+(?:met\\s+)?(?:een\\s+)?(?:echte?\\s+)?(?:mens|medewerker|persoon)',
  'met\\s+een\\s+(?:echte?\\s+)?(?:mens|medewerker|persoon)',
  'echte?\\s+(?:mens|medewerker|persoon)',
  // pt
  '(?:falar|conversar)\\s+com\\s+(?:um|uma|alguem|atendente)',
  '(?:atendente|pessoa)\\s+(?:humano|humana|real)',
  // it
  'parlare\\s+con\\s+(?:un|una|qualcuno|operatore)',
  '(?:operatore|persona)\\s+(?:umano|umana|reale|vera)',
  // sv
  '(?:prata|tala)\\s+med\\s+(?:en\\s+)?(?:riktig\\s+)?(?:manniska|person|handlaggare|agent)',
  'riktig\\s+(?:manniska|person)',
].map(bounded);

// ---------------------------------------------------------------------------------------------
// Rules classifier
// ---------------------------------------------------------------------------------------------

interface IntentScore {
  name: string;
  score: number;
  priority: number;
  order: number;
  urgency?: Urgency;
  hits: string[];
}

/** Tests a user pattern against the folded text and the original, so accents in either one work. */
function userRegex(source: string): RegExp {
  return new RegExp(source, 'iu');
}

function scoreIntents(text: string, rules: ClassifierRules): IntentScore[] {
  const folded = foldText(text);
  return rules.intents.map((intent, order) => {
    const hits: string[] = [];
    let score = 0;
    for (const keyword of intent.keywords) {
      if (phraseRegex(keyword).test(folded)) {
        const words = keyword.trim().split(/\s+/).length;
        score += 1 + 0.5 * (words - 1); // a phrase says more than a word
        hits.push(`keyword "${keyword}"`);
      }
    }
    for (const pattern of intent.patterns) {
      const regex = userRegex(pattern);
      if (regex.test(folded) || regex.test(text)) {
        score += 1.5;
        hits.push(`pattern /${pattern}/`);
      }
    }
    return { name: intent.name, score, priority: intent.priority, order, urgency: intent.urgency, hits };
  });
}

/** Confidence from hit strength, lowered when the runner-up is close. */
function intentConfidence(best: number, second: number): number {
  if (best <= 0) return 0;
  const strength = 1 - Math.pow(0.4, best); // 1 hit 0.6, 2 hits 0.84, 3 hits 0.94
  const margin = 0.5 + 0.5 * ((best - second) / best);
  return round2(Math.min(0.99, strength * margin));
}

function compiled(rules: ClassifierRulesInput | ClassifierRules | undefined): ClassifierRules {
  return parseInput(ClassifierRulesSchema, rules ?? {}, 'classifier rules');
}

function requireText(text: unknown): string {
  if (typeof text !== 'string') throw new OmnithreadError('INVALID_INPUT', 'Invalid text: must be a string', { field: 'text' });
  return text;
}

/** The built-in, offline classifier: deterministic, explainable (`reasons`), never calls anything. */
export function classifyWithRules(text: string, rulesInput?: ClassifierRulesInput, hints: ClassifyHints = {}): Classification {
  requireText(text);
  const rules = compiled(rulesInput);
  const reasons: string[] = [];

  // Intent
  const ranked = scoreIntents(text, rules)
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score || b.priority - a.priority || a.order - b.order);
  const best = ranked[0];
  const intent = best?.name ?? 'other';
  const confidence = best ? intentConfidence(best.score, ranked[1]?.score ?? 0) : 0;
  if (best) {
    reasons.push(`intent ${best.name}: ${best.hits.join(', ')} (score ${round2(best.score)})`);
    if (ranked[1]) reasons.push(`runner-up ${ranked[1].name} (score ${round2(ranked[1].score)})`);
  } else reasons.push('intent other: no keyword or pattern matched');

  // Language
  const hinted = normalizeLanguage(hints.language);
  let language: string;
  if (hinted) {
    language = hinted;
    reasons.push(`language ${hinted}: hint from the channel`);
  } else {
    const detected = detectLanguage(text);
    language = detected.language;
    reasons.push(
      detected.language === 'und'
        ? 'language und: not enough evidence'
        : `language ${detected.language}: stop words ${detected.words.slice(0, 6).map((w) => `"${w}"`).join(', ')}`,
    );
  }

  // Sentiment
  const mood = sentimentOf(text, rules.negativeWords, rules.positiveWords);
  reasons.push(`sentiment ${mood.sentiment} (score ${mood.score})${mood.reasons.length ? `: ${mood.reasons.join(', ')}` : ''}`);

  // Urgency
  const folded = foldText(text);
  const urgentHit = [...URGENT_KEYWORDS, ...rules.urgentKeywords].find((k) => phraseRegex(k).test(folded));
  let urgency: Urgency = 'normal';
  if (urgentHit) {
    urgency = 'high';
    reasons.push(`urgency high: keyword "${urgentHit}"`);
  } else if (best?.urgency) {
    urgency = best.urgency;
    reasons.push(`urgency ${urgency}: intent ${best.name}`);
  }

  // A person
  const human =
    HUMAN_PATTERNS.find((r) => r.test(folded)) ?? rules.humanRequestPatterns.map(userRegex).find((r) => r.test(folded) || r.test(text));
  const wantsHuman = human !== undefined;
  if (human) {
    const said = (human.exec(folded) ?? human.exec(text))?.[0] ?? human.source;
    reasons.push(`wants a human: "${said.trim()}"`);
  }

  return { intent, language, sentiment: mood.sentiment, urgency, confidence, wantsHuman, source: 'rules', reasons };
}

// ---------------------------------------------------------------------------------------------
// LLM answers
// ---------------------------------------------------------------------------------------------

const lowerEnum = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), schema);

function llmAnswerSchema(intents: string[]) {
  const allowed = new Map([...intents, 'other'].map((name) => [name.toLowerCase(), name]));
  return z.object({
    intent: z
      .string()
      .transform((v, ctx) => {
        const name = allowed.get(v.trim().toLowerCase());
        if (!name) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v.slice(0, 64)}" is not one of the rule intents or "other"` });
          return z.NEVER;
        }
        return name;
      }),
    language: z.string().transform((v, ctx) => {
      const code = v.trim().toLowerCase() === 'und' ? 'und' : normalizeLanguage(v);
      if (!code) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a language code such as "en" or "pt-br", or "und"' });
        return z.NEVER;
      }
      return code;
    }),
    sentiment: lowerEnum(SentimentSchema),
    urgency: lowerEnum(UrgencySchema),
    confidence: z.number().min(0).max(1),
    wantsHuman: z.boolean(),
    reason: z.string().max(2000).optional(),
  });
}

function systemPrompt(rules: ClassifierRules): string {
  const intents = rules.intents.length
    ? rules.intents
        .map((i) => `- ${i.name}${i.keywords.length ? ` (e.g. ${i.keywords.slice(0, 8).join(', ')})` : ''}`)
        .join('\n')
    : '(none defined)';
  return [
    'You classify one customer-support message for routing. Answer with a single JSON object and nothing else.',
    'Allowed intents (use "other" when none fits):',
    intents,
    '- other',
    'The JSON object has exactly these keys:',
    '{"intent": one of the allowed intents, "language": ISO 639-1 code of the message such as "en" or "de" ("und" if unsure),',
    ' "sentiment": "negative" | "neutral" | "positive", "urgency": "low" | "normal" | "high",',
    ' "confidence": number between 0 and 1 for the intent, "wantsHuman": true only if the customer explicitly asks for a human person,',
    ' "reason": a short explanation}',
  ].join('\n');
}

/** The JSON object in a model's text: plain, in a ```json fence, or the outermost {...} of some prose. */
function extractJson(content: string): unknown {
  const attempts = [content.trim()];
  const fence = /```(?:json|JSON)?\s*([\s\S]*?)```/.exec(content);
  if (fence) attempts.push(fence[1]!.trim());
  const first = content.indexOf('{');
  const last = content.lastIndexOf('}');
  if (first >= 0 && last > first) attempts.push(content.slice(first, last + 1));
  for (const attempt of attempts) {
    try {
      return JSON.parse(attempt);
    } catch {
      // next
    }
  }
  throw new FallbackReason(`malformed JSON in the answer: ${JSON.stringify(content.slice(0, 80))}`);
}

class FallbackReason extends Error {}

function validateAnswer(content: string, rules: ClassifierRules, source: 'llm' | 'chat-model', text: string, hints: ClassifyHints, extra: string[]): Classification {
  const json = extractJson(content);
  const parsed = llmAnswerSchema(rules.intents.map((i) => i.name)).safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FallbackReason(`the answer does not match the schema: ${issues}`);
  }
  const a = parsed.data;
  const reasons = [...extra, `intent ${a.intent} (confidence ${a.confidence})${a.reason ? `: ${a.reason.slice(0, 300)}` : ''}`];
  let language = a.language;
  const hinted = normalizeLanguage(hints.language);
  if (hinted) {
    language = hinted;
    reasons.push(`language ${hinted}: hint from the channel`);
  }
  // An explicit request for a person is never overruled: the rules' patterns are checked too.
  let wantsHuman = a.wantsHuman;
  if (!wantsHuman) {
    const rulesSay = classifyWithRules(text, rules, hints);
    if (rulesSay.wantsHuman) {
      wantsHuman = true;
      reasons.push(...rulesSay.reasons.filter((r) => r.startsWith('wants a human')).map((r) => `rules: ${r}`));
    }
  }
  return { intent: a.intent, language, sentiment: a.sentiment, urgency: a.urgency, confidence: round2(a.confidence), wantsHuman, source, reasons };
}

function fallback(text: string, rules: ClassifierRules, hints: ClassifyHints, from: 'llm' | 'chat-model', reason: string): Classification {
  const result = classifyWithRules(text, rules, hints);
  return { ...result, fallback: { from, reason }, reasons: [`${from} not used: ${reason}`, ...result.reasons] };
}

/** Removes a secret from text that might travel into logs, flows or a timeline. */
function redact(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join('[redacted]');
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible chat completions
// ---------------------------------------------------------------------------------------------

export const LlmSettingsSchema = z
  .object({
    /** The API root, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama). */
    baseUrl: z.string().url('must be a URL such as https://api.openai.com/v1'),
    /** Sent as `Authorization: Bearer`; may be empty for a local server that needs none (Ollama). */
    apiKey: z.string().max(4096).default(''),
    model: z.string().trim().min(1, 'must name a model').max(256),
    /** Per attempt. */
    timeoutMs: z.number().int().positive().max(600_000).default(10_000),
    /** Extra attempts after a timeout, a 429 or a 5xx. */
    retries: z.number().int().min(0).max(5).default(1),
  })
  .strict();
export type LlmSettings = z.input<typeof LlmSettingsSchema>;

/** Statuses and failures worth another attempt. */
function retryable(error: AxiosError): boolean {
  const status = error.response?.status;
  if (status === undefined) return isTimeout(error) || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(error.code ?? '');
  return status === 429 || status >= 500;
}

const isTimeout = (error: AxiosError): boolean => error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT' || /timeout/i.test(error.message);

function describeHttpFailure(error: AxiosError, timeoutMs: number): string {
  const status = error.response?.status;
  if (status === undefined) return isTimeout(error) ? `timed out after ${timeoutMs} ms` : `could not be reached: ${error.code ?? error.message}`;
  const body = error.response?.data as { error?: { message?: unknown } } | string | undefined;
  const said = typeof body === 'object' && body && typeof body.error?.message === 'string' ? body.error.message : typeof body === 'string' ? body : JSON.stringify(body ?? '');
  const label = status === 429 ? 'rate limited (HTTP 429)' : status === 401 || status === 403 ? `refused the credentials (HTTP ${status})` : `HTTP ${status}`;
  return `${label}${said ? `: ${said.slice(0, 200)}` : ''}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Classifies with an OpenAI-compatible chat-completions API
 * (https://platform.openai.com/docs/api-reference/chat/create). Never throws for the API's failures:
 * a timeout, an HTTP error, malformed JSON or an answer outside the schema falls back to the rules,
 * with `fallback: { from: 'llm', reason }`. Invalid settings or rules are INVALID_INPUT.
 */
export async function classifyWithLlm(
  text: string,
  rulesInput: ClassifierRulesInput | undefined,
  llmInput: LlmSettings,
  http?: AxiosInstance,
  hints: ClassifyHints = {},
): Promise<Classification> {
  requireText(text);
  const rules = compiled(rulesInput);
  const parsedSettings = LlmSettingsSchema.safeParse(llmInput);
  if (!parsedSettings.success) {
    // zod messages carry no values, so the key cannot leak through them; redact anyway.
    const error = invalidInput('LLM settings', parsedSettings.error);
    throw new OmnithreadError('INVALID_INPUT', redact(error.message, (llmInput as { apiKey?: string })?.apiKey), { field: error.field ? `llm.${error.field}` : undefined, details: error.details });
  }
  const llm = parsedSettings.data;
  const client = http ?? axios.create();
  const url = `${llm.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const body = {
    model: llm.model,
    messages: [
      { role: 'system', content: systemPrompt(rules) },
      { role: 'user', content: text },
    ],
    response_format: { type: 'json_object' },
    temperature: 0,
  };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (llm.apiKey) headers.authorization = `Bearer ${llm.apiKey}`;

  let lastReason = 'no attempt made';
  for (let attempt = 0; attempt <= llm.retries; attempt++) {
    const started = Date.now();
    let data: unknown;
    try {
      const response = await client.post(url, body, { headers, timeout: llm.timeoutMs, signal: AbortSignal.timeout(llm.timeoutMs + 50) });
      data = response.data;
    } catch (err) {
      const error = err as AxiosError;
      if (axios.isCancel(error) || (error as { name?: string }).name === 'CanceledError') {
        lastReason = `timed out after ${llm.timeoutMs} ms`;
      } else lastReason = describeHttpFailure(error, llm.timeoutMs);
      lastReason = redact(lastReason, llm.apiKey);
      const canRetry = axios.isCancel(error) || retryable(error);
      if (!canRetry || attempt === llm.retries) break;
      const retryAfter = retryAfterSeconds(error.response?.headers?.['retry-after']);
      const wait = retryAfter !== undefined ? retryAfter * 1000 : 200 * (attempt + 1);
      if (wait > llm.timeoutMs) {
        lastReason += ` (retry after ${retryAfter} s is too long to wait)`;
        break;
      }
      await sleep(wait);
      continue;
    }
    const elapsed = Date.now() - started;
    try {
      const content = (data as { choices?: Array<{ message?: { content?: unknown } }> })?.choices?.[0]?.message?.content;
      if (typeof content !== 'string' || !content.trim()) throw new FallbackReason('the answer has no choices[0].message.content');
      const extra = [`llm ${llm.model} answered in ${elapsed} ms${attempt ? ` (attempt ${attempt + 1})` : ''}`];
      return validateAnswer(content, rules, 'llm', text, hints, extra);
    } catch (error) {
      lastReason = redact(error instanceof FallbackReason ? error.message : `the answer could not be read: ${(error as Error).message}`, llm.apiKey);
      break; // a model that answered badly once (temperature 0) will answer badly again
    }
  }
  return fallback(text, rules, hints, 'llm', lastReason);
}

// ---------------------------------------------------------------------------------------------
// n8n Chat Model sub-node (a LangChain chat model), duck-typed
// ---------------------------------------------------------------------------------------------

/** What the core needs of a LangChain chat model: `invoke` with role/content messages. */
export interface ChatModelLike {
  invoke(messages: unknown): Promise<unknown>;
}

/** The text of a chat model's answer: a string, or an AIMessage-like `{ content }` (a string or text parts). */
function answerText(answer: unknown): string {
  if (typeof answer === 'string') return answer;
  if (answer && typeof answer === 'object' && 'content' in answer) {
    const content = (answer as { content: unknown }).content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      return content
        .map((part) => (typeof part === 'string' ? part : part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''))
        .join('');
    }
  }
  throw new FallbackReason('the chat model answered neither text nor a message with content');
}

export async function classifyWithChatModel(
  text: string,
  rulesInput: ClassifierRulesInput | undefined,
  model: ChatModelLike,
  timeoutMs = 10_000,
  hints: ClassifyHints = {},
): Promise<Classification> {
  requireText(text);
  const rules = compiled(rulesInput);
  if (!model || typeof model.invoke !== 'function') {
    throw new OmnithreadError('INVALID_INPUT', 'Invalid chat model: it has no invoke() method (connect a Chat Model sub-node)', { field: 'chatModel' });
  }
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FallbackReason(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const answer = await Promise.race([
      Promise.resolve().then(() =>
        model.invoke([
          { role: 'system', content: systemPrompt(rules) },
          { role: 'user', content: text },
        ]),
      ),
      timeout,
    ]);
    const content = answerText(answer);
    return validateAnswer(content, rules, 'chat-model', text, hints, [`chat model answered in ${Date.now() - started} ms`]);
  } catch (error) {
    const reason = error instanceof FallbackReason ? error.message : `the chat model failed: ${String((error as Error)?.message ?? error).slice(0, 200)}`;
    return fallback(text, rules, hints, 'chat-model', reason);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

export interface ClassifyOptions {
  rules?: ClassifierRulesInput;
  llm?: LlmSettings;
  chatModel?: ChatModelLike;
  /** Timeout for the chat model (the LLM has its own in `llm.timeoutMs`). */
  chatModelTimeoutMs?: number;
  hints?: ClassifyHints;
  http?: AxiosInstance;
}

/** Chat model first if given, else the LLM if given, else the built-in rules. */
export async function classify(text: string, options: ClassifyOptions = {}): Promise<Classification> {
  if (options.chatModel) return classifyWithChatModel(text, options.rules, options.chatModel, options.chatModelTimeoutMs ?? options.llm?.timeoutMs ?? 10_000, options.hints);
  if (options.llm) return classifyWithLlm(text, options.rules, options.llm, options.http, options.hints);
  return classifyWithRules(text, options.rules, options.hints);
}
