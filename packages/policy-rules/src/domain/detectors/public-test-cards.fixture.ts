/**
 * Test card numbers published by payment processors for their sandboxes: numbers that
 * pass every check a real card passes, issued for anyone to type into a form. Copied as
 * published (grouping removed); the source is named on each entry. A number a processor
 * lists outside the 13-19 digit PAN range (PayPal's 11-digit Dankort 76009244561) is left
 * out, since no card detector is meant to find it.
 */
export interface PublishedTestCard {
  readonly number: string;
  readonly network: string;
  readonly source: 'stripe' | 'braintree' | 'paypal' | 'adyen';
}

// https://docs.stripe.com/testing#cards
const STRIPE: readonly (readonly [string, string])[] = [
  ['4242424242424242', 'visa'],
  ['4000056655665556', 'visa debit'],
  ['5555555555554444', 'mastercard'],
  ['2223003122003222', 'mastercard 2-series'],
  ['5200828282828210', 'mastercard debit'],
  ['5105105105105100', 'mastercard prepaid'],
  ['378282246310005', 'amex'],
  ['371449635398431', 'amex'],
  ['6011111111111117', 'discover'],
  ['6011000990139424', 'discover'],
  ['6011981111111113', 'discover debit'],
  ['3056930009020004', 'diners'],
  ['36227206271667', 'diners 14-digit'],
  ['6555900000604105', 'bccard/dinacard'],
  ['3566002020360505', 'jcb'],
  ['6200000000000005', 'unionpay'],
  ['6200000000000047', 'unionpay debit'],
  ['6205500000000000004', 'unionpay 19-digit'],
  ['4000002500001001', 'cartes bancaires/visa'],
  ['5555552500001001', 'cartes bancaires/mastercard'],
  ['4000050360000001', 'eftpos/visa'],
  ['5555050360000080', 'eftpos/mastercard'],
  ['4000000760000002', 'visa (BR)'],
  ['4000001240000000', 'visa (CA)'],
  ['4000004840008001', 'visa (MX)'],
  ['4000000400000008', 'visa (AT)'],
  ['4000000560000004', 'visa (BE)'],
  ['4000002080000001', 'visa (DK)'],
  ['4000002460000001', 'visa (FI)'],
  ['4000002500000003', 'visa (FR)'],
  ['4000002760000016', 'visa (DE)'],
];

// https://developer.paypal.com/braintree/docs/reference/general/testing
const BRAINTREE: readonly (readonly [string, string])[] = [
  ['378282246310005', 'amex'],
  ['371449635398431', 'amex'],
  ['36259600000004', 'diners'],
  ['6011000991300009', 'discover'],
  ['3530111333300000', 'jcb'],
  ['6304000000000000', 'maestro'],
  ['5555555555554444', 'mastercard'],
  ['2223000048400011', 'mastercard'],
  ['4111111111111111', 'visa'],
  ['4005519200000004', 'visa'],
  ['4009348888881881', 'visa'],
  ['4012000033330026', 'visa'],
  ['4012000077777777', 'visa'],
  ['4012888888881881', 'visa'],
  ['4217651111111119', 'visa'],
  ['4500600000000061', 'visa'],
  ['6243030000000001', 'unionpay'],
];

// PayPal Payflow / classic sandbox test numbers.
const PAYPAL: readonly (readonly [string, string])[] = [
  ['378282246310005', 'amex'],
  ['371449635398431', 'amex'],
  ['378734493671000', 'amex corporate'],
  ['5610591081018250', 'australian bankcard'],
  ['30569309025904', 'diners'],
  ['38520000023237', 'diners'],
  ['6011111111111117', 'discover'],
  ['6011000990139424', 'discover'],
  ['3530111333300000', 'jcb'],
  ['3566002020360505', 'jcb'],
  ['5555555555554444', 'mastercard'],
  ['5105105105105100', 'mastercard'],
  ['4111111111111111', 'visa'],
  ['4012888888881881', 'visa'],
  ['4222222222222', 'visa 13-digit'],
  ['5019717010103742', 'dankort'],
  ['6331101999990016', 'switch/solo'],
];

// https://docs.adyen.com/development-resources/test-cards-and-credentials/test-card-numbers
const ADYEN: readonly (readonly [string, string])[] = [
  ['135410014004955', 'uatp'],
  ['5019555544445555', 'dankort'],
  ['5066991111111118', 'elo'],
  ['6062828888666688', 'hipercard'],
  ['5555341244441115', 'mastercard'],
  ['370000000000002', 'amex'],
  ['36006666333344', 'diners'],
  ['6011601160116611', 'discover'],
  ['3569990010095841', 'jcb'],
  ['6250946000000016', 'unionpay'],
  ['6703444444444449', 'bancontact/maestro'],
];

export const publishedTestCards: readonly PublishedTestCard[] = [
  ...STRIPE.map(([number, network]) => ({ number, network, source: 'stripe' as const })),
  ...BRAINTREE.map(([number, network]) => ({ number, network, source: 'braintree' as const })),
  ...PAYPAL.map(([number, network]) => ({ number, network, source: 'paypal' as const })),
  ...ADYEN.map(([number, network]) => ({ number, network, source: 'adyen' as const })),
];
