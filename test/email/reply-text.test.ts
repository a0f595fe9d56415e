/**
 * extractReplyText (shared/email/reply-text.ts): the new part of an inbound email, as the mail
 * clients really lay out their plain-text replies, and the phone numbers of the signature.
 */
import fc from 'fast-check';
import { extractReplyText } from '../../shared/email/reply-text';

interface Case {
  name: string;
  input: string;
  text: string;
  phones: string[];
  signature?: string;
}

const mail = (...lines: string[]): string => lines.join('\n');

const cases: Case[] = [
  {
    name: 'Gmail (en): signature without delimiter after "Best regards", then the quote',
    input: mail(
      'Hi Sam,',
      '',
      'Thanks for the quick answer. The replacement arrived but the charger is missing. Can you send one?',
      '',
      'Best regards,',
      'Maya Patel',
      'Operations Manager | Brightline Ltd',
      '+44 7911 123456',
      '',
      'On Tue, 24 Nov 2026 at 10:00, Acme Support <support@acme.example> wrote:',
      '',
      '> Hello Maya,',
      '>',
      '> Your replacement has shipped.',
      '>',
      '> Sam',
    ),
    text: 'Hi Sam,\n\nThanks for the quick answer. The replacement arrived but the charger is missing. Can you send one?',
    phones: ['+44 7911 123456'],
    signature: 'Best regards,\nMaya Patel\nOperations Manager | Brightline Ltd\n+44 7911 123456',
  },
  {
    name: 'Outlook desktop (en): signature block without valediction (name / role / phone), then the header block',
    input: mail(
      'Hello,',
      '',
      'The invoice for October still shows our old address. Please correct it and send it again.',
      '',
      'Daniel Weber',
      'Head of Finance',
      'Tel: (415) 555-0132',
      '',
      '________________________________',
      'From: Acme Support <support@acme.example>',
      'Sent: Tuesday, November 24, 2026 10:00 AM',
      'To: Daniel Weber <daniel@weber.example>',
      'Subject: RE: Invoice October',
      '',
      'Hello Daniel,',
      'we have updated your account.',
    ),
    text: 'Hello,\n\nThe invoice for October still shows our old address. Please correct it and send it again.',
    phones: ['(415) 555-0132'],
    signature: 'Daniel Weber\nHead of Finance\nTel: (415) 555-0132',
  },
  {
    name: 'Apple Mail on iOS (en): "Sent from my iPhone", then a quote whose header is quoted too',
    input: mail(
      'Yes, Thursday morning works for me.',
      '',
      'Sent from my iPhone',
      '',
      '> On 24 Nov 2026, at 10:00, Acme Support <support@acme.example> wrote:',
      '> ',
      '> Hello Maya, would Thursday suit you for the technician visit?',
    ),
    text: 'Yes, Thursday morning works for me.',
    phones: [],
    signature: 'Sent from my iPhone',
  },
  {
    name: 'Gmail (en): the attribution wrapped over two lines',
    input: mail(
      'That fixed it, thank you!',
      '',
      'On Tue, 24 Nov 2026 at 10:00, Acme Customer Support <support@acme.example>',
      'wrote:',
      '',
      '> Please restart the router and try again.',
    ),
    text: 'That fixed it, thank you!',
    phones: [],
  },
  {
    name: 'Apple Mail on macOS (en): the attribution wrapped over two lines, no blank line before it',
    input: mail(
      'Works now.',
      'On 24 Nov 2026, at 10:00, Acme Customer Support Team <support@acme.example>',
      'wrote:',
      '',
      '> Could you try again?',
    ),
    text: 'Works now.',
    phones: [],
  },
  {
    name: 'a message that is only "Thanks!"',
    input: 'Thanks!',
    text: 'Thanks!',
    phones: [],
  },
  {
    name: '"Thanks!" with a greeting and a signature stays the message',
    input: mail('Hi Sam,', '', 'Thanks!', 'Maya', '+44 7911 123456'),
    text: 'Hi Sam,\n\nThanks!',
    phones: ['+44 7911 123456'],
    signature: 'Maya\n+44 7911 123456',
  },
  {
    name: 'a phone number inside a sentence of the body stays in the text',
    input: mail(
      'Hi,',
      '',
      'My broadband has been down since Monday. Please call me on +44 7911 123456 tomorrow between 9 and 11.',
      '',
      'Thanks,',
      'Maya',
    ),
    text: 'Hi,\n\nMy broadband has been down since Monday. Please call me on +44 7911 123456 tomorrow between 9 and 11.',
    phones: [],
    signature: 'Thanks,\nMaya',
  },
  {
    name: 'a closing paragraph that asks to be called is not a signature',
    input: mail('Hi,', '', 'My broadband has been down since Monday.', '', 'call me on +44 7911 123456 tomorrow'),
    text: 'Hi,\n\nMy broadband has been down since Monday.\n\ncall me on +44 7911 123456 tomorrow',
    phones: [],
  },
  {
    name: 'a closing order number is not a signature',
    input: mail('Hi,', '', 'My parcel has not arrived.', '', 'Order number: 12345678'),
    text: 'Hi,\n\nMy parcel has not arrived.\n\nOrder number: 12345678',
    phones: [],
  },
  {
    name: 'a P.S. after the valediction keeps everything',
    input: mail('Hi,', '', 'Can you resend the invoice?', '', 'Thanks,', 'Maya', '', 'P.S. Please use my new address from now on.'),
    text: 'Hi,\n\nCan you resend the invoice?\n\nThanks,\nMaya\n\nP.S. Please use my new address from now on.',
    phones: [],
  },
  {
    name: 'no quote and no signature: unchanged',
    input: mail('Hello,', '', 'Where can I download last month\'s statement?', 'I looked in the portal but could not find it.'),
    text: "Hello,\n\nWhere can I download last month's statement?\nI looked in the portal but could not find it.",
    phones: [],
  },
  {
    name: 'RFC 3676 "-- " delimiter',
    input: mail('The link in your email does not open.', '', '-- ', 'Maya Patel', 'Mob +44 7911 123456', 'Brightline Ltd, 221B Baker Street, London'),
    text: 'The link in your email does not open.',
    phones: ['+44 7911 123456'],
    signature: '--\nMaya Patel\nMob +44 7911 123456\nBrightline Ltd, 221B Baker Street, London',
  },
  {
    name: 'Outlook (en): "-----Original Message-----"',
    input: mail(
      'Please cancel my subscription at the end of the month.',
      '',
      '-----Original Message-----',
      'From: Acme Billing <billing@acme.example>',
      'Sent: Tuesday, November 24, 2026 10:00 AM',
      'To: maya@example.com',
      'Subject: Your subscription',
    ),
    text: 'Please cancel my subscription at the end of the month.',
    phones: [],
  },
  {
    name: 'Outlook on iOS (en): "Get Outlook for iOS" and the web header block without a separator line',
    input: mail(
      'Got it, thanks. I will be home after 5.',
      '',
      'Get Outlook for iOS<https://aka.ms/o0ukef>',
      'From: Acme Deliveries <deliveries@acme.example>',
      'Sent: Tuesday, November 24, 2026 10:00:12 AM',
      'To: Maya Patel <maya@example.com>',
      'Subject: Your delivery slot',
      '',
      'Hello Maya,',
    ),
    text: 'Got it, thanks. I will be home after 5.',
    phones: [],
    signature: 'Get Outlook for iOS<https://aka.ms/o0ukef>',
  },
  {
    name: 'Gmail (en): forwarded message with a comment above it',
    input: mail(
      'See the error below, it happens every time I log in.',
      '',
      '---------- Forwarded message ---------',
      'From: Acme <noreply@acme.example>',
      'Date: Tue, 24 Nov 2026 at 10:00',
      'Subject: Login failed',
      'To: <maya@example.com>',
      '',
      'We could not sign you in.',
    ),
    text: 'See the error below, it happens every time I log in.',
    phones: [],
  },
  {
    name: 'Thunderbird (en): bottom-posted reply under the quote',
    input: mail('On 11/24/26 10:00 AM, Acme Support wrote:', '> Did the update fix the sync problem?', '', 'Yes, it syncs again. Thanks!'),
    text: 'Yes, it syncs again. Thanks!',
    phones: [],
  },
  {
    name: 'Thunderbird (en): top-posted, with a "|" contact line after a blank line',
    input: mail(
      'The new password works, please close the ticket.',
      '',
      'Maya Patel | Brightline Ltd | +44 20 7946 0958 | www.brightline.example',
      '',
      'On 11/24/26 10:00 AM, Acme Support wrote:',
      '> Please try the new password.',
    ),
    text: 'The new password works, please close the ticket.',
    phones: ['+44 20 7946 0958'],
  },
  {
    name: 'an inline answer between quoted lines keeps the answer',
    input: mail('> Which model do you have?', 'The X200.', '> And the serial number?', 'SN-99812.'),
    text: 'The X200.\nSN-99812.',
    phones: [],
  },
  {
    name: 'Outlook desktop (de): "Mit freundlichen Grüßen", signature block and the "Von:/Gesendet:" block',
    input: mail(
      'Guten Tag,',
      '',
      'leider ist die Lieferung immer noch nicht angekommen. Können Sie bitte nachsehen?',
      '',
      'Mit freundlichen Grüßen',
      '',
      'Max Mustermann',
      'Leiter Einkauf',
      'Musterfirma GmbH',
      'Tel.: 030 1234567',
      'Mobil: 0171 5551234',
      '',
      'Von: Acme Support <support@acme.example>',
      'Gesendet: Dienstag, 24. November 2026 10:00',
      'An: Max Mustermann <max@musterfirma.example>',
      'Betreff: AW: Lieferung',
      '',
      'Sehr geehrter Herr Mustermann,',
    ),
    text: 'Guten Tag,\n\nleider ist die Lieferung immer noch nicht angekommen. Können Sie bitte nachsehen?',
    phones: ['030 1234567', '0171 5551234'],
  },
  {
    name: 'Apple Mail on iOS (de): "Von meinem iPhone gesendet" and "Am ... schrieb ...:"',
    input: mail(
      'Danke, das hat geklappt!',
      '',
      'Viele Grüße',
      'Anna',
      '',
      'Von meinem iPhone gesendet',
      '',
      '> Am 24.11.2026 um 10:00 schrieb Acme Support <support@acme.example>:',
      '> ',
      '> Bitte starten Sie das Gerät neu.',
    ),
    text: 'Danke, das hat geklappt!',
    phones: [],
    signature: 'Viele Grüße\nAnna\n\nVon meinem iPhone gesendet',
  },
  {
    name: 'Gmail (de): "Am ... schrieb ...:" over two lines, "-----Ursprüngliche Nachricht-----" below',
    input: mail(
      'Ist die Rechnung schon unterwegs?',
      '',
      'LG',
      'Jonas',
      '',
      'Am Di., 24. Nov. 2026 um 10:00 Uhr schrieb Acme Buchhaltung <',
      'buchhaltung@acme.example>:',
      '',
      '> Guten Tag,',
    ),
    text: 'Ist die Rechnung schon unterwegs?',
    phones: [],
    signature: 'LG\nJonas',
  },
  {
    name: 'Gmail (fr): "Cordialement" signature and "Le ... a écrit :"',
    input: mail(
      'Bonjour,',
      '',
      "Je n'ai toujours pas reçu le remboursement de ma commande. Pouvez-vous vérifier ?",
      '',
      'Cordialement,',
      'Jean Dupont',
      'Responsable achats',
      'Tél. : +33 1 23 45 67 89',
      '',
      'Le mar. 24 nov. 2026 à 10:00, Acme Support <support@acme.example> a écrit :',
      '',
      '> Bonjour Jean,',
    ),
    text: "Bonjour,\n\nJe n'ai toujours pas reçu le remboursement de ma commande. Pouvez-vous vérifier ?",
    phones: ['+33 1 23 45 67 89'],
  },
  {
    name: 'Outlook (fr): "Envoyé de mon iPhone" and the "De : / Envoyé :" block',
    input: mail(
      "D'accord, merci pour votre aide.",
      '',
      'Envoyé de mon iPhone',
      '',
      'De : Acme Support <support@acme.example>',
      'Envoyé : mardi 24 novembre 2026 10:00',
      'À : Jean Dupont <jean@exemple.fr>',
      'Objet : RE: Remboursement',
    ),
    text: "D'accord, merci pour votre aide.",
    phones: [],
    signature: 'Envoyé de mon iPhone',
  },
  {
    name: 'Gmail (es): "Un saludo" signature and "El ... escribió:"',
    input: mail(
      'Hola,',
      '',
      '¿Pueden cambiar la dirección de entrega? Me mudo la semana que viene.',
      '',
      'Un saludo,',
      'Lucía Fernández',
      'Directora comercial',
      'Móvil: +34 612 345 678',
      '',
      'El mar, 24 nov 2026 a las 10:00, Acme Soporte (<soporte@acme.example>) escribió:',
      '',
      '> Hola Lucía,',
    ),
    text: 'Hola,\n\n¿Pueden cambiar la dirección de entrega? Me mudo la semana que viene.',
    phones: ['+34 612 345 678'],
  },
  {
    name: 'Outlook (es): "Enviado desde mi iPhone", "De: / Enviado:" block',
    input: mail(
      'Perfecto, gracias.',
      '',
      'Enviado desde mi iPhone',
      '',
      'De: Acme Soporte <soporte@acme.example>',
      'Enviado: martes, 24 de noviembre de 2026 10:00',
      'Para: Lucía Fernández <lucia@ejemplo.es>',
      'Asunto: RE: Dirección de entrega',
    ),
    text: 'Perfecto, gracias.',
    phones: [],
    signature: 'Enviado desde mi iPhone',
  },
  {
    name: 'Outlook (nl): "Met vriendelijke groet" and the "Van: / Verzonden:" block',
    input: mail(
      'Kunt u de factuur opnieuw sturen?',
      '',
      'Met vriendelijke groet,',
      'Pieter de Vries',
      'T: 020 123 4567',
      '',
      'Van: Acme Support <support@acme.example>',
      'Verzonden: dinsdag 24 november 2026 10:00',
      'Aan: Pieter de Vries',
      'Onderwerp: Factuur',
    ),
    text: 'Kunt u de factuur opnieuw sturen?',
    phones: ['020 123 4567'],
  },
  {
    name: 'Outlook (sv): "Med vänliga hälsningar" and the "Från: / Skickat:" block',
    input: mail(
      'Tack, det fungerar nu.',
      '',
      'Med vänliga hälsningar',
      'Erik Andersson',
      '',
      'Från: Acme Support <support@acme.example>',
      'Skickat: den 24 november 2026 10:00',
      'Till: Erik Andersson',
      'Ämne: SV: Inloggning',
    ),
    text: 'Tack, det fungerar nu.',
    phones: [],
    signature: 'Med vänliga hälsningar\nErik Andersson',
  },
  {
    name: 'a greeting and a closing: the closing and the signature go',
    input: mail('Hi', '', 'Best regards,', 'Maya', '+44 7911 123456'),
    text: 'Hi',
    phones: ['+44 7911 123456'],
    signature: 'Best regards,\nMaya\n+44 7911 123456',
  },
  {
    name: '"On Monday I wrote:" in the text is prose, not a quote header',
    input: mail('Hi,', '', 'On Monday I wrote:', 'the box was empty. Can you send a new one?'),
    text: 'Hi,\n\nOn Monday I wrote:\nthe box was empty. Can you send a new one?',
    phones: [],
  },
  {
    name: 'a bare "--" used as a divider keeps the question under it',
    input: mail('Hi,', '', 'First the invoice is wrong.', '', '--', 'Second: can you change my plan?'),
    text: 'Hi,\n\nFirst the invoice is wrong.\n\n--\nSecond: can you change my plan?',
    phones: [],
  },
  {
    name: 'a bare "--" above a short signature is a delimiter',
    input: mail('The app crashes on start.', '', '--', 'Maya Patel', 'M: +44 7911 123456'),
    text: 'The app crashes on start.',
    phones: ['+44 7911 123456'],
    signature: '--\nMaya Patel\nM: +44 7911 123456',
  },
  {
    name: 'headers only email-reply-parser knows: Gmail (it) "Il giorno ... ha scritto:"',
    input: mail('Grazie, risolto.', '', 'Il giorno mar 24 nov 2026 alle ore 10:00 Acme <support@acme.example> ha scritto:', '', '> Buongiorno'),
    text: 'Grazie, risolto.',
    phones: [],
  },
  {
    name: 'Gmail (pt): "Em ... escreveu:", "Obrigada" and the signature under it',
    input: mail(
      'Recebi o produto errado.',
      '',
      'Obrigada,',
      'Ana Souza',
      'Tel: +55 11 91234-5678',
      '',
      'Em ter., 24 de nov. de 2026 às 10:00, Acme <support@acme.example> escreveu:',
      '',
      '> Olá Ana',
    ),
    text: 'Recebi o produto errado.',
    phones: ['+55 11 91234-5678'],
  },
  {
    name: 'a forward without a comment falls back to the whole text',
    input: mail('---------- Forwarded message ---------', 'From: Acme <noreply@acme.example>', 'Subject: Login failed', '', 'We could not sign you in.'),
    text: '---------- Forwarded message ---------\nFrom: Acme <noreply@acme.example>\nSubject: Login failed\n\nWe could not sign you in.',
    phones: [],
  },
  {
    name: 'CRLF line ends (as IMAP delivers them)',
    input: 'Please call back.\r\n\r\nKind regards,\r\nMaya\r\n030 1234567\r\n\r\nOn Tue, 24 Nov 2026 at 10:00, Acme <a@acme.example> wrote:\r\n> Hi',
    text: 'Please call back.',
    phones: ['030 1234567'],
  },
];

describe('extractReplyText', () => {
  test.each(cases)('$name', ({ input, text, phones, signature }) => {
    const result = extractReplyText(input);
    expect(result.text).toBe(text);
    expect(result.signaturePhones).toEqual(phones);
    if (signature !== undefined) expect(result.signature).toBe(signature);
  });

  test('no signature field when nothing was removed as a signature', () => {
    expect(extractReplyText('Where is my parcel?')).toEqual({ text: 'Where is my parcel?', signaturePhones: [] });
  });

  test('an empty or blank mail gives an empty text', () => {
    expect(extractReplyText('')).toEqual({ text: '', signaturePhones: [] });
    expect(extractReplyText(' \n \n')).toEqual({ text: '', signaturePhones: [] });
  });
});

describe('extractReplyText properties', () => {
  const lineOf = fc.oneof(
    fc.constantFrom(
      '',
      '  ',
      'Hi Sam,',
      'Where is my parcel?',
      'Please call me on +44 7911 123456 tomorrow.',
      'Thanks!',
      'Best regards,',
      'Mit freundlichen Grüßen',
      'Cordialement,',
      'Un saludo,',
      'Maya Patel',
      'Head of Support | Acme Ltd',
      'Tel: (415) 555-0132',
      'www.acme.example',
      'Sent from my iPhone',
      '-- ',
      '> quoted line',
      'On Tue, 24 Nov 2026 at 10:00, Acme Support <support@acme.example> wrote:',
      'On Tue, 24 Nov 2026 at 10:00, Acme Support <support@acme.example>',
      'wrote:',
      'From: Acme <support@acme.example>',
      'Sent: Tuesday, November 24, 2026 10:00 AM',
      '________________________________',
      '-----Original Message-----',
      '---------- Forwarded message ---------',
    ),
    fc.string({ maxLength: 40 }),
  );
  const mailOf = fc.tuple(fc.array(lineOf, { maxLength: 25 }), fc.constantFrom('\n', '\r\n'));
  const inputLines = (input: string): string[] => input.split(/\r\n|\r|\n/).map((l) => l.trim());

  /** Is `sub` the list `all` with some entries removed (same order)? */
  function isSubsequence(sub: string[], all: string[]): boolean {
    let at = 0;
    for (const line of sub) {
      while (at < all.length && all[at] !== line) at++;
      if (at === all.length) return false;
      at++;
    }
    return true;
  }

  test('only removes lines, never invents or rewrites one', () => {
    fc.assert(
      fc.property(mailOf, ([lines, eol]) => {
        const input = lines.join(eol);
        const result = extractReplyText(input);
        expect(isSubsequence(inputLines(result.text), inputLines(input))).toBe(true);
        if (result.signature !== undefined) expect(isSubsequence(inputLines(result.signature), inputLines(input))).toBe(true);
        for (const phone of result.signaturePhones) expect(result.signature).toContain(phone);
      }),
      { numRuns: 500 },
    );
  });

  test('never empty when a non-blank line comes before any quote header', () => {
    const own = fc.string({ minLength: 1, maxLength: 60 }).filter((s) => s.trim() !== '' && !/[\r\n]/.test(s));
    fc.assert(
      fc.property(own, fc.array(lineOf, { maxLength: 10 }), (first, rest) => {
        const result = extractReplyText([first, ...rest].join('\n'));
        expect(result.text).not.toBe('');
        expect(result.text).toBe(result.text.trim());
      }),
      { numRuns: 500 },
    );
  });
});
