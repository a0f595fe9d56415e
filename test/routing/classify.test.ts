import { OmnithreadError } from '../../shared/errors';
import {
  ClassifierRulesSchema,
  classify,
  classifyWithChatModel,
  classifyWithLlm,
  classifyWithRules,
  type ClassifierRulesInput,
} from '../../shared/routing/classify';
import { startChatCompletions, type ChatCompletionsServer } from '../support/chat-completions-server';

const rules: ClassifierRulesInput = {
  intents: [
    { name: 'billing', keywords: ['invoice', 'refund', 'Rechnung', 'facture', 'factura', 'charged twice'], patterns: ['\\bpaid\\s+\\d+'] },
    { name: 'shipping', keywords: ['delivery', 'tracking', 'Lieferung', 'livraison', 'envío'], patterns: ['where\\s+is\\s+my\\s+(order|parcel|package)'], urgency: 'normal' },
    { name: 'outage', keywords: ['down', 'outage', 'Störung'], priority: 5, urgency: 'high' },
    { name: 'feedback', keywords: ['feedback', 'suggestion'], urgency: 'low' },
  ],
};

describe('classifyWithRules: intents', () => {
  test('keyword and pattern hits pick the intent, with reasons', () => {
    const invoice = classifyWithRules('I need a copy of my invoice please', rules);
    expect(invoice).toMatchObject({ intent: 'billing', source: 'rules' });
    expect(invoice.confidence).toBeGreaterThan(0.5);
    expect(invoice.reasons.join('\n')).toContain('keyword "invoice"');
    expect(invoice.fallback).toBeUndefined();

    const order = classifyWithRules('Where is my package? It was due yesterday', rules);
    expect(order.intent).toBe('shipping');
    expect(order.reasons.join('\n')).toMatch(/pattern \/where/);

    const paid = classifyWithRules('I paid 40 euros and got nothing', rules);
    expect(paid.intent).toBe('billing');
  });

  test('case- and accent-insensitive, word boundaries', () => {
    expect(classifyWithRules('Meine RECHNUNG stimmt nicht', rules).intent).toBe('billing');
    expect(classifyWithRules('¿Dónde está mi ENVIO?', rules).intent).toBe('shipping'); // envío written without the accent
    expect(classifyWithRules('Es gibt eine Storung bei euch', rules).intent).toBe('outage'); // Störung without umlaut
    // "downstairs" does not contain the word "down"; "refunds" is not "refund"
    expect(classifyWithRules('I left it downstairs', rules).intent).toBe('other');
  });

  test('more hits mean more confidence; a close runner-up means less; priority breaks ties', () => {
    const one = classifyWithRules('about my invoice', rules);
    const two = classifyWithRules('refund for my invoice, I was charged twice', rules);
    expect(two.confidence).toBeGreaterThan(one.confidence);
    const mixed = classifyWithRules('invoice for the delivery', rules);
    expect(mixed.confidence).toBeLessThan(one.confidence);
    const tie = classifyWithRules('the site is down and my invoice is missing', rules);
    expect(tie.intent).toBe('outage'); // same score, higher priority
  });

  test('no hit -> "other" with confidence 0', () => {
    const result = classifyWithRules('Hello there, how are you today?', rules);
    expect(result).toMatchObject({ intent: 'other', confidence: 0 });
    expect(classifyWithRules('', undefined)).toMatchObject({ intent: 'other', confidence: 0, language: 'und', sentiment: 'neutral' });
  });

  test('an invalid regex is INVALID_INPUT naming intents.N.patterns.M', () => {
    const bad = { intents: [{ name: 'a', keywords: ['x'] }, { name: 'b', patterns: ['ok', '(unclosed'] }] };
    let error: unknown;
    try {
      classifyWithRules('text', bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OmnithreadError);
    expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
    expect((error as OmnithreadError).field).toBe('intents.1.patterns.1');
    expect((error as OmnithreadError).message).toContain('intents.1.patterns.1');
    expect(ClassifierRulesSchema.safeParse({ humanRequestPatterns: ['[z-a]'] }).success).toBe(false);
    expect(ClassifierRulesSchema.safeParse({ intents: [{ name: 'other' }] }).success).toBe(false);
    expect(ClassifierRulesSchema.safeParse({ intents: [{ name: 'a', keyword: ['typo'] }] }).success).toBe(false);
  });
});

describe('classifyWithRules: language', () => {
  const sentences: Array<[string, string]> = [
    ['en', 'Hello, I ordered a jacket two weeks ago and it still has not arrived. Can you tell me where it is?'],
    ['de', 'Hallo, ich habe vor zwei Wochen eine Jacke bestellt und sie ist immer noch nicht angekommen. Können Sie mir sagen, wo sie ist?'],
    ['fr', "Bonjour, j'ai commandé une veste il y a deux semaines et elle n'est toujours pas arrivée. Pouvez-vous me dire où elle est ?"],
    ['es', 'Hola, pedí una chaqueta hace dos semanas y todavía no ha llegado. ¿Me puede decir dónde está?'],
    ['nl', 'Hallo, ik heb twee weken geleden een jas besteld en die is nog steeds niet aangekomen. Kunt u mij zeggen waar hij is?'],
    ['pt', 'Olá, eu encomendei um casaco há duas semanas e ainda não chegou. Você pode me dizer onde ele está?'],
    ['it', 'Ciao, ho ordinato una giacca due settimane fa e non è ancora arrivata. Mi potete dire dove si trova?'],
    ['sv', 'Hej, jag beställde en jacka för två veckor sedan och den har fortfarande inte kommit. Kan du säga var den är?'],
  ];
  test.each(sentences)('%s', (language, text) => {
    const result = classifyWithRules(text, rules);
    expect(result.language).toBe(language);
    expect(result.reasons.join('\n')).toContain(`language ${language}: stop words`);
  });

  test('short sentences in each language', () => {
    expect(classifyWithRules('Ich brauche bitte eine neue Rechnung', rules).language).toBe('de');
    expect(classifyWithRules('Je ne suis pas content de la livraison', rules).language).toBe('fr');
    expect(classifyWithRules('No estoy contento con el pedido', rules).language).toBe('es');
    expect(classifyWithRules('Mi pedido no ha llegado', rules).language).toBe('es');
    expect(classifyWithRules('Il mio ordine non è arrivato', rules).language).toBe('it');
    expect(classifyWithRules('Meu pedido não chegou', rules).language).toBe('pt');
    expect(classifyWithRules('Where is my order?', rules).language).toBe('en');
  });

  test('unsure -> "und"; a hint from the channel wins', () => {
    expect(classifyWithRules('OK', rules).language).toBe('und');
    expect(classifyWithRules('12345 #A-778', rules).language).toBe('und');
    const hinted = classifyWithRules('Where is my order?', rules, { language: 'pt_BR' });
    expect(hinted.language).toBe('pt-br');
    expect(hinted.reasons).toContain('language pt-br: hint from the channel');
    expect(classifyWithRules('Where is my order?', rules, { language: 'not a code!' }).language).toBe('en');
  });
});

describe('classifyWithRules: sentiment', () => {
  test.each([
    ["I'm not happy at all", 'negative'],
    ['I am not happy with this', 'negative'],
    ["This isn't good", 'negative'],
    ['thanks, great service', 'positive'],
    ['This is terrible, the worst support ever', 'negative'],
    ['Ich bin nicht zufrieden', 'negative'],
    ['Super, vielen Dank, alles perfekt', 'positive'],
    ['Je ne suis pas content', 'negative'],
    ['Merci, service parfait', 'positive'],
    ['Estoy muy enojado, es inaceptable', 'negative'],
    ['Gracias, excelente servicio', 'positive'],
    ['I would like to change my address', 'neutral'],
    ['not bad', 'neutral'],
  ])('%s -> %s', (text, sentiment) => {
    expect(classifyWithRules(text, rules).sentiment).toBe(sentiment);
  });

  test('shouting and !!! intensify', () => {
    const shout = classifyWithRules('WHERE IS MY ORDER!!!', rules);
    expect(shout.sentiment).toBe('negative');
    expect(shout.reasons.join('\n')).toMatch(/shouting/);
    // "bad" alone: a score of -1 is negative; shouting makes it stronger, and says so
    const quiet = classifyWithRules('bad', rules);
    const loud = classifyWithRules('BAD BAD SERVICE!!!', rules);
    expect(quiet.sentiment).toBe('negative');
    expect(loud.reasons.join('\n')).toMatch(/sentiment negative \(score -3\)/);
  });

  test('extra words extend the lexicon', () => {
    expect(classifyWithRules('the app is janky', rules).sentiment).toBe('neutral');
    expect(classifyWithRules('the app is janky', { ...rules, negativeWords: ['janky'] }).sentiment).toBe('negative');
    expect(classifyWithRules('well done team', { ...rules, positiveWords: ['well done'] }).sentiment).toBe('positive');
  });
});

describe('classifyWithRules: urgency and wantsHuman', () => {
  test.each([
    ['This is urgent, my card was charged twice', 'high'],
    ['Please fix it ASAP', 'high'],
    ['I need this immediately', 'high'],
    ['Bitte sofort zurückrufen', 'high'],
    ['Es muy urgente', 'high'],
    ['Merci de me répondre immédiatement', 'high'],
    ['The whole site is down', 'high'], // per-intent urgency
    ['A small suggestion for the app', 'low'], // per-intent urgency
    ['Where is my package?', 'normal'],
  ])('%s -> %s', (text, urgency) => {
    expect(classifyWithRules(text, rules).urgency).toBe(urgency);
  });

  test('extra urgent keywords', () => {
    expect(classifyWithRules('code red on checkout', { ...rules, urgentKeywords: ['code red'] }).urgency).toBe('high');
  });

  test.each([
    'I want to talk to a human',
    'Can I speak to an agent please?',
    'Is there a real person there?',
    'agent please',
    'Ich möchte mit einem Menschen sprechen',
    'Kann ich bitte mit jemandem sprechen?',
    'Bitte mit einem echten Mitarbeiter verbinden',
    'Je veux parler à un humain',
    'Je voudrais un conseiller',
    'Quiero hablar con una persona',
    'Ik wil met een medewerker spreken',
    'Quero falar com um atendente',
    'Vorrei parlare con un operatore',
    'Jag vill prata med en människa',
  ])('wants a human: %s', (text) => {
    const result = classifyWithRules(text, rules);
    expect(result.wantsHuman).toBe(true);
    expect(result.reasons.join('\n')).toMatch(/wants a human/);
  });

  test.each(['Where is my order?', 'The human body is complex', 'My agent number is 4', 'Danke für die schnelle Lieferung', 'Ich komme mit einem Paket'])('no request for a person: %s', (text) => {
    expect(classifyWithRules(text, rules).wantsHuman).toBe(false);
  });

  test('extra human request patterns', () => {
    expect(classifyWithRules('escalate this', { ...rules, humanRequestPatterns: ['\\bescalate\\b'] }).wantsHuman).toBe(true);
  });
});

describe('classifyWithLlm against a local chat-completions server', () => {
  const apiKey = 'sk-secret-abcdef123456';
  let server: ChatCompletionsServer;
  const valid = { intent: 'billing', language: 'de', sentiment: 'negative', urgency: 'high', confidence: 0.93, wantsHuman: false, reason: 'asks about a refund' };
  const llm = () => ({ baseUrl: server.baseUrl, apiKey, model: 'gpt-4o-mini', timeoutMs: 2000, retries: 1 });
  const noKey = (c: { reasons: string[]; fallback?: { reason: string } }) => {
    expect(JSON.stringify(c)).not.toContain(apiKey);
  };

  beforeEach(async () => {
    server = await startChatCompletions({ apiKey });
  });
  afterEach(async () => {
    await server.close();
  });

  test('a valid answer is used, and the request follows the contract', async () => {
    server.script({ kind: 'json', answer: valid });
    const result = await classifyWithLlm('Ich will mein Geld zurück!', rules, llm());
    expect(result).toMatchObject({ intent: 'billing', language: 'de', sentiment: 'negative', urgency: 'high', confidence: 0.93, wantsHuman: false, source: 'llm' });
    expect(result.fallback).toBeUndefined();
    expect(server.seen).toHaveLength(1);
    const request = server.seen[0]!;
    expect(request.status).toBe(200);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(request.body).toMatchObject({ model: 'gpt-4o-mini', response_format: { type: 'json_object' }, temperature: 0 });
    expect(request.body.messages[0].role).toBe('system');
    for (const name of ['billing', 'shipping', 'outage', 'feedback', 'other']) expect(request.body.messages[0].content).toContain(name);
    expect(request.body.messages[1]).toEqual({ role: 'user', content: 'Ich will mein Geld zurück!' });
    noKey(result);
  });

  test('the server enforces the contract: wrong key 401, missing model 400', async () => {
    const wrong = await classifyWithLlm('hello', rules, { ...llm(), apiKey: 'sk-wrong-key-999999', retries: 0 });
    expect(wrong.source).toBe('rules');
    expect(wrong.fallback?.reason).toMatch(/HTTP 401/);
    expect(JSON.stringify(wrong)).not.toContain('sk-wrong-key-999999');
    const axios = (await import('axios')).default;
    const missing = await axios.post(`${server.baseUrl}/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] }, { headers: { authorization: `Bearer ${apiKey}` }, validateStatus: () => true });
    expect(missing.status).toBe(400);
    expect(missing.data.error).toMatchObject({ type: 'invalid_request_error', param: 'model' });
    const noJsonWord = await axios.post(
      `${server.baseUrl}/chat/completions`,
      { model: 'm', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_object' } },
      { headers: { authorization: `Bearer ${apiKey}` }, validateStatus: () => true },
    );
    expect(noJsonWord.status).toBe(400);
  });

  test('malformed JSON -> rules, fallback recorded', async () => {
    server.script({ kind: 'content', content: '{"intent": "billing", "language": ' });
    const result = await classifyWithLlm('I need a refund for my invoice', rules, llm());
    expect(result).toMatchObject({ source: 'rules', intent: 'billing', fallback: { from: 'llm' } });
    expect(result.fallback!.reason).toMatch(/malformed JSON/);
    expect(server.seen).toHaveLength(1); // no retry for a bad answer
    noKey(result);
  });

  test('a ```json fence is accepted', async () => {
    server.script({ kind: 'fenced', answer: { ...valid, intent: 'Shipping', sentiment: 'Neutral' } });
    const result = await classifyWithLlm('Wo ist mein Paket?', rules, llm());
    expect(result).toMatchObject({ source: 'llm', intent: 'shipping', sentiment: 'neutral' });
  });

  test('500 then success with retries=1 -> used', async () => {
    server.script({ kind: 'status', status: 500 }, { kind: 'json', answer: valid });
    const result = await classifyWithLlm('refund', rules, llm());
    expect(result.source).toBe('llm');
    expect(server.seen.map((r) => r.status)).toEqual([500, 200]);
  });

  test('500 twice -> fallback', async () => {
    server.script({ kind: 'status', status: 500 }, { kind: 'status', status: 502 });
    const result = await classifyWithLlm('refund', rules, llm());
    expect(result).toMatchObject({ source: 'rules', intent: 'billing', fallback: { from: 'llm' } });
    expect(result.fallback!.reason).toMatch(/HTTP 502/);
    expect(server.seen).toHaveLength(2);
    noKey(result);
  });

  test('429 is retried, honouring a short Retry-After', async () => {
    server.script({ kind: 'status', status: 429, headers: { 'retry-after': '0' } }, { kind: 'json', answer: valid });
    const result = await classifyWithLlm('refund', rules, llm());
    expect(result.source).toBe('llm');
    server.script({ kind: 'status', status: 429, headers: { 'retry-after': '60' } });
    const later = await classifyWithLlm('refund', rules, llm());
    expect(later.fallback?.reason).toMatch(/rate limited.*retry after 60 s/);
  });

  test('timeout -> fallback within about timeoutMs', async () => {
    server.script({ kind: 'delay', ms: 3000, then: { kind: 'json', answer: valid } });
    const started = Date.now();
    const result = await classifyWithLlm('refund', rules, { ...llm(), timeoutMs: 300, retries: 0 });
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({ source: 'rules', fallback: { from: 'llm', reason: 'timed out after 300 ms' } });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1000);
  });

  test('a timeout is retried', async () => {
    server.script({ kind: 'delay', ms: 2000 }, { kind: 'json', answer: valid });
    const result = await classifyWithLlm('refund', rules, { ...llm(), timeoutMs: 300, retries: 1 });
    expect(result.source).toBe('llm');
    expect(server.seen).toHaveLength(2);
  });

  test('an intent not in the rules -> fallback (schema)', async () => {
    server.script({ kind: 'json', answer: { ...valid, intent: 'cancellation' } });
    const result = await classifyWithLlm('refund', rules, llm());
    expect(result).toMatchObject({ source: 'rules', fallback: { from: 'llm' } });
    expect(result.fallback!.reason).toMatch(/schema.*intent.*cancellation/);
    server.script({ kind: 'json', answer: { ...valid, confidence: 7 } });
    expect((await classifyWithLlm('refund', rules, llm())).fallback?.reason).toMatch(/confidence/);
  });

  test('the API key never appears, even when the provider echoes it', async () => {
    server.script({ kind: 'status', status: 500, message: `internal error for key ${apiKey}` }, { kind: 'status', status: 500, message: `key ${apiKey} failed` });
    const result = await classifyWithLlm('refund', rules, llm());
    expect(result.fallback?.reason).toContain('[redacted]');
    noKey(result);
    server.script({ kind: 'content', content: `not json ${apiKey}` });
    noKey(await classifyWithLlm('refund', rules, llm()));
  });

  test('unreachable server -> fallback', async () => {
    const result = await classifyWithLlm('refund', rules, { ...llm(), baseUrl: 'http://127.0.0.1:1/v1', retries: 0 });
    expect(result.fallback?.reason).toMatch(/could not be reached/);
  });

  test('invalid settings are INVALID_INPUT without the key', () => {
    return expect(classifyWithLlm('x', rules, { baseUrl: 'not a url', apiKey, model: 'm' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'llm.baseUrl' });
  });

  test('an explicit request for a person is kept even when the LLM misses it', async () => {
    server.script({ kind: 'json', answer: { ...valid, wantsHuman: false } });
    const result = await classifyWithLlm('refund now, I want to talk to a human', rules, llm());
    expect(result).toMatchObject({ source: 'llm', wantsHuman: true });
  });

  test('classify(): llm when given, rules otherwise', async () => {
    server.script({ kind: 'json', answer: valid });
    expect((await classify('refund', { rules, llm: llm() })).source).toBe('llm');
    expect((await classify('refund', { rules })).source).toBe('rules');
  });
});

describe('classifyWithChatModel (duck-typed LangChain model)', () => {
  const answer = { intent: 'shipping', language: 'fr', sentiment: 'negative', urgency: 'normal', confidence: 0.8, wantsHuman: true };

  test('a string answer', async () => {
    const calls: unknown[] = [];
    const model = { invoke: async (messages: unknown) => (calls.push(messages), JSON.stringify(answer)) };
    const result = await classifyWithChatModel('Où est mon colis ?', rules, model, 1000);
    expect(result).toMatchObject({ ...answer, source: 'chat-model' });
    const [messages] = calls as Array<Array<{ role: string; content: string }>>;
    expect(messages!.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages![0]!.content).toContain('shipping');
    expect(messages![1]!.content).toBe('Où est mon colis ?');
  });

  test('a { content } answer and an array content', async () => {
    const asMessage = await classifyWithChatModel('x', rules, { invoke: async () => ({ content: '```json\n' + JSON.stringify(answer) + '\n```' }) }, 1000);
    expect(asMessage.source).toBe('chat-model');
    const parts = JSON.stringify(answer);
    const asParts = await classifyWithChatModel('x', rules, { invoke: async () => ({ content: [{ type: 'text', text: parts.slice(0, 20) }, { type: 'text', text: parts.slice(20) }] }) }, 1000);
    expect(asParts).toMatchObject({ intent: 'shipping', source: 'chat-model' });
  });

  test('a throwing model, a bad answer or a slow model -> fallback "chat-model"', async () => {
    const thrown = await classifyWithChatModel('refund please', rules, { invoke: async () => Promise.reject(new Error('model exploded')) }, 1000);
    expect(thrown).toMatchObject({ source: 'rules', intent: 'billing', fallback: { from: 'chat-model', reason: 'the chat model failed: model exploded' } });
    const bad = await classifyWithChatModel('refund', rules, { invoke: async () => ({ content: 'I think it is billing' }) }, 1000);
    expect(bad.fallback).toMatchObject({ from: 'chat-model', reason: expect.stringMatching(/malformed JSON/) });
    const nothing = await classifyWithChatModel('refund', rules, { invoke: async () => 42 }, 1000);
    expect(nothing.fallback?.from).toBe('chat-model');
    const started = Date.now();
    const slow = await classifyWithChatModel('refund', rules, { invoke: () => new Promise((r) => setTimeout(() => r(JSON.stringify(answer)), 2000).unref()) }, 200);
    expect(slow.fallback?.reason).toBe('timed out after 200 ms');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('classify(): the chat model wins over the llm', async () => {
    const result = await classify('x', { rules, chatModel: { invoke: async () => JSON.stringify(answer) }, llm: { baseUrl: 'http://127.0.0.1:1/v1', apiKey: 'k', model: 'm' } });
    expect(result.source).toBe('chat-model');
  });
});
