/**
 * Deterministic sample rows for the source schema (V001), and a loader that fills only empty
 * tables.
 *
 * The generator is seeded (mulberry32) and uses no clock: the same options give the same rows.
 * At scale 1 it makes 7 offices, 23 employees, 122 customers, 7 product lines, 110 products,
 * 326 orders, about 3,000 order lines and 273 payments. Every foreign key points at a generated
 * row, primary keys are unique, non-null columns are filled, decimals are strings with exactly
 * two decimals (DECIMAL(10,2)) and dates are `YYYY-MM-DD` strings. `updated_at` is not generated:
 * MySQL fills it (DEFAULT CURRENT_TIMESTAMP(3)), as for any row written by the application.
 * Names, addresses, phones and e-mails are invented (`*.example` domain, 555 numbers).
 */
import customers from '../../glue-scripts/lib/undercurrent_glue/schemas/source/customers.json';
import employees from '../../glue-scripts/lib/undercurrent_glue/schemas/source/employees.json';
import offices from '../../glue-scripts/lib/undercurrent_glue/schemas/source/offices.json';
import orderLines from '../../glue-scripts/lib/undercurrent_glue/schemas/source/order_lines.json';
import orders from '../../glue-scripts/lib/undercurrent_glue/schemas/source/orders.json';
import payments from '../../glue-scripts/lib/undercurrent_glue/schemas/source/payments.json';
import productLines from '../../glue-scripts/lib/undercurrent_glue/schemas/source/product_lines.json';
import products from '../../glue-scripts/lib/undercurrent_glue/schemas/source/products.json';
import { loadOrder, referencedDatasets, type ReferencingDeclaration } from '../lake/load-order';
import type { Db } from './migrations';

/** The tables the generator fills: every source table (test/source-db/schema-agreement.test.ts). */
export type TableName =
  | 'offices'
  | 'employees'
  | 'customers'
  | 'product_lines'
  | 'products'
  | 'orders'
  | 'order_lines'
  | 'payments';

export type SqlValue = string | number | null;
export type Row = Readonly<Record<string, SqlValue>>;
export type SampleData = Readonly<Record<TableName, readonly Row[]>>;

/**
 * The declaration of each table (glue-scripts/lib/undercurrent_glue/schemas/source/), imported
 * so that the Lambda bundle carries them (no file system at run time). The compiler checks that
 * every table has one; the CDK app validates them against the JSON Schema at synthesis.
 */
const DECLARATIONS: Readonly<Record<TableName, ReferencingDeclaration>> = {
  offices,
  employees,
  customers,
  product_lines: productLines,
  products,
  orders,
  order_lines: orderLines,
  payments,
};

/**
 * Parents before children: the order of inserts. Derived from the declarations' `references`
 * rules (lib/lake/load-order.ts; ties by name), the order `sourceLoadOrder()` and
 * `undercurrent_glue.schema.source_load_order` give.
 */
export const LOAD_ORDER: readonly TableName[] = loadOrder(Object.values(DECLARATIONS)) as TableName[];

/** The tables each table references (self-references left out), from the declarations' `references` rules. */
export const PARENT_TABLES: Readonly<Record<TableName, readonly TableName[]>> = parentTables();

function parentTables(): Record<TableName, readonly TableName[]> {
  const parents = {} as Record<TableName, readonly TableName[]>;
  for (const table of Object.keys(DECLARATIONS) as TableName[]) {
    parents[table] = referencedDatasets(DECLARATIONS[table]).filter((parent) => parent !== table) as TableName[];
  }
  return parents;
}

/** The columns the generator fills, in table order (every column but `updated_at`). */
export const SAMPLE_COLUMNS: Readonly<Record<TableName, readonly string[]>> = {
  offices: ['office_code', 'city', 'phone', 'address_line1', 'address_line2', 'state', 'country', 'postal_code', 'territory'],
  employees: ['employee_number', 'last_name', 'first_name', 'extension', 'email', 'office_code', 'reports_to', 'job_title'],
  customers: [
    'customer_number',
    'customer_name',
    'contact_last_name',
    'contact_first_name',
    'phone',
    'address_line1',
    'address_line2',
    'city',
    'state',
    'postal_code',
    'country',
    'sales_rep_employee_number',
    'credit_limit',
  ],
  product_lines: ['product_line', 'text_description', 'html_description'],
  products: [
    'product_code',
    'product_name',
    'product_line',
    'product_scale',
    'product_vendor',
    'product_description',
    'quantity_in_stock',
    'buy_price',
    'msrp',
  ],
  orders: ['order_number', 'order_date', 'required_date', 'shipped_date', 'status', 'comments', 'customer_number'],
  order_lines: ['order_number', 'product_code', 'quantity_ordered', 'price_each', 'order_line_number'],
  payments: ['customer_number', 'check_number', 'payment_date', 'amount'],
};

export interface SampleDataOptions {
  /**
   * Seed of the pseudo-random generator.
   * @default 20240601
   */
  readonly seed?: number;
  /**
   * Multiplies the number of sales reps, customers, products, orders and payments (offices,
   * product lines and the management hierarchy are fixed). Between 0.01 and 100.
   * @default 1
   */
  readonly scale?: number;
  /**
   * Last order date (`YYYY-MM-DD`); orders span about 30 months before it.
   * @default '2025-06-30'
   */
  readonly endDate?: string;
}

export const DEFAULT_SEED = 20240601;
export const DEFAULT_END_DATE = '2025-06-30';

const BASE_COUNTS = { salesReps: 17, customers: 122, products: 110, orders: 326, payments: 273 };
const ORDER_SPAN_DAYS = 900;
const MAX_LINES_PER_ORDER = 17;

/** mulberry32: small, fast, good enough for sample data, identical on every platform. */
class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** `count` distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    const n = Math.min(count, copy.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.next() * (copy.length - i));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, n);
  }
}

/** Cents to a DECIMAL(10,2) string: 123456 -> '1234.56'. */
export function formatCents(cents: number): string {
  if (!Number.isInteger(cents) || cents < 0) {
    throw new Error(`formatCents expects a non-negative integer, got ${cents}`);
  }
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

function addDays(isoDate: string, days: number): string {
  const time = Date.parse(`${isoDate}T00:00:00Z`) + days * 86_400_000;
  return new Date(time).toISOString().slice(0, 10);
}

type Territory = 'NA' | 'EMEA' | 'APAC' | 'Japan';

interface OfficeSeed {
  readonly code: string;
  readonly city: string;
  readonly phone: string;
  readonly address1: string;
  readonly address2: string | null;
  readonly state: string | null;
  readonly country: string;
  readonly postalCode: string;
  readonly territory: Territory;
}

const OFFICES: readonly OfficeSeed[] = [
  { code: '1', city: 'San Francisco', phone: '+1 650 555 0100', address1: '100 Market Street', address2: 'Suite 300', state: 'CA', country: 'USA', postalCode: '94080', territory: 'NA' },
  { code: '2', city: 'Boston', phone: '+1 215 555 0137', address1: '1550 Court Place', address2: 'Suite 102', state: 'MA', country: 'USA', postalCode: '02107', territory: 'NA' },
  { code: '3', city: 'NYC', phone: '+1 212 555 0131', address1: '523 East 53rd Street', address2: 'apt. 5A', state: 'NY', country: 'USA', postalCode: '10022', territory: 'NA' },
  { code: '4', city: 'Paris', phone: '+33 1 55 55 01 20', address1: '43 Rue Jouffroy', address2: null, state: null, country: 'France', postalCode: '75017', territory: 'EMEA' },
  { code: '5', city: 'Tokyo', phone: '+81 3 5555 0120', address1: '4-1 Kioicho', address2: null, state: 'Chiyoda-Ku', country: 'Japan', postalCode: '102-8578', territory: 'Japan' },
  { code: '6', city: 'Sydney', phone: '+61 2 5555 0120', address1: '5-11 Wentworth Avenue', address2: 'Floor #2', state: 'NSW', country: 'Australia', postalCode: 'NSW 2010', territory: 'APAC' },
  { code: '7', city: 'London', phone: '+44 20 5555 0120', address1: '25 Old Broad Street', address2: 'Level 7', state: null, country: 'UK', postalCode: 'EC2N 1HN', territory: 'EMEA' },
];

interface Location {
  readonly city: string;
  readonly state: string | null;
  readonly country: string;
  readonly postalCode: string | null;
  readonly dial: string;
  readonly territory: Territory;
}

const LOCATIONS: readonly Location[] = [
  { city: 'San Rafael', state: 'CA', country: 'USA', postalCode: '97562', dial: '+1', territory: 'NA' },
  { city: 'San Francisco', state: 'CA', country: 'USA', postalCode: '94217', dial: '+1', territory: 'NA' },
  { city: 'NYC', state: 'NY', country: 'USA', postalCode: '10022', dial: '+1', territory: 'NA' },
  { city: 'Boston', state: 'MA', country: 'USA', postalCode: '51247', dial: '+1', territory: 'NA' },
  { city: 'Las Vegas', state: 'NV', country: 'USA', postalCode: '83030', dial: '+1', territory: 'NA' },
  { city: 'Montreal', state: 'Québec', country: 'Canada', postalCode: 'H1J 1C3', dial: '+1', territory: 'NA' },
  { city: 'Vancouver', state: 'BC', country: 'Canada', postalCode: 'V3F 2K1', dial: '+1', territory: 'NA' },
  { city: 'Nantes', state: null, country: 'France', postalCode: '44000', dial: '+33', territory: 'EMEA' },
  { city: 'Paris', state: null, country: 'France', postalCode: '75016', dial: '+33', territory: 'EMEA' },
  { city: 'Madrid', state: null, country: 'Spain', postalCode: '28034', dial: '+34', territory: 'EMEA' },
  { city: 'Barcelona', state: null, country: 'Spain', postalCode: '08022', dial: '+34', territory: 'EMEA' },
  { city: 'München', state: null, country: 'Germany', postalCode: '80686', dial: '+49', territory: 'EMEA' },
  { city: 'Torino', state: null, country: 'Italy', postalCode: '10100', dial: '+39', territory: 'EMEA' },
  { city: 'Stavern', state: null, country: 'Norway', postalCode: '4110', dial: '+47', territory: 'EMEA' },
  { city: 'Helsinki', state: null, country: 'Finland', postalCode: '21240', dial: '+358', territory: 'EMEA' },
  { city: 'Dublin', state: null, country: 'Ireland', postalCode: null, dial: '+353', territory: 'EMEA' },
  { city: 'Manchester', state: null, country: 'UK', postalCode: 'M4 5TH', dial: '+44', territory: 'EMEA' },
  { city: 'Melbourne', state: 'Victoria', country: 'Australia', postalCode: '3004', dial: '+61', territory: 'APAC' },
  { city: 'Auckland', state: null, country: 'New Zealand', postalCode: '1001', dial: '+64', territory: 'APAC' },
  { city: 'Singapore', state: null, country: 'Singapore', postalCode: '079903', dial: '+65', territory: 'APAC' },
  { city: 'Hong Kong', state: null, country: 'Hong Kong', postalCode: null, dial: '+852', territory: 'APAC' },
  { city: 'Osaka', state: 'Osaka', country: 'Japan', postalCode: '530-0003', dial: '+81', territory: 'Japan' },
  { city: 'Kita-ku', state: 'Osaka', country: 'Japan', postalCode: '530-0003', dial: '+81', territory: 'Japan' },
];

const FIRST_NAMES = [
  'Diane', 'Mary', 'Jeff', 'William', 'Gerard', 'Anthony', 'Leslie', 'Julie', 'Steve', 'Foon Yue',
  'George', 'Loui', 'Pamela', 'Larry', 'Barry', 'Andy', 'Peter', 'Tom', 'Mami', 'Yoshimi',
  'Martin', 'Carine', 'Jean', 'Janine', 'Jonas', 'Susan', 'Roland', 'Julie', 'Kwai', 'Diego',
  'Christina', 'Valarie', 'Wing', 'Eric', 'Elizabeth', 'Sue', 'Zbyszek', 'Marta', 'Annette', 'Ann',
];

const LAST_NAMES = [
  'Murphy', 'Patterson', 'Firrelli', 'Bondur', 'Bow', 'Jennings', 'Thompson', 'Tseng', 'Vanauf', 'Bott',
  'Jones', 'Fixter', 'Marsh', 'King', 'Nishi', 'Kato', 'Gerard', 'Hernandez', 'Castillo', 'Schmitt',
  'King', 'Ferguson', 'Labrune', 'Bergulfsen', 'Nelson', 'Piestrzeniewicz', 'Keitel', 'Murphy', 'Lee', 'Freyre',
  'Berglund', 'Petersen', 'Saveley', 'Natividad', 'Young', 'Leong', 'Hashimoto', 'Victorino', 'Oeztan', 'Moos',
];

const COMPANY_FIRST = [
  'Atelier', 'Signal', 'Australian', 'La Rochelle', 'Baane', 'Mini', 'Euro+', 'Volvo', 'Danish',
  'Saveley', 'Dragon', 'Muscle', 'Diecast', 'Technics', 'Herkku', 'Handji', 'Corporate', 'Classic',
  'Auto', 'Petit', 'Royal', 'Scandinavian', 'Gift', 'Vitachrome', 'Toys4', 'Mini Wheels',
];

const COMPANY_SECOND = [
  'Gifts', 'Collectors', 'Model Replicas', 'Classics', 'Souveniers', 'Auto Co.', 'Shopping Channel',
  'Imports', 'Wholesale', 'Collectables', 'Stores Inc.', 'Gift Ideas', 'Design', 'Toys', 'Emporium',
];

const COMPANY_SUFFIX = ['', '', '', ' Ltd.', ' Inc.', ' Co.', ' & Co', ', Ltd', ' GmbH', ' AG'];

const STREETS = [
  'Rue Royale', 'Kirkegaard', 'Berguvsvägen', 'Gran Vía', 'Hauptstr.', 'Strada Provinciale', 'Erling Skakkes gate',
  'Keskuskatu', 'Avenue of the Americas', 'Pine Street', 'Maple Street', 'Lyonerstr.', 'Fauntleroy Circus',
  'Monitor Road', 'Drammen', 'Schoenfeldstr.', 'Boulevard Tirou', 'Wellington Street', 'Hillside Drive', 'Harbour Road',
];

interface ProductLineSeed {
  readonly name: string;
  readonly description: string;
  readonly makes: readonly string[];
  readonly models: readonly string[];
}

const PRODUCT_LINES: readonly ProductLineSeed[] = [
  {
    name: 'Classic Cars',
    description: 'Die-cast replicas of classic cars, detailed down to the interior and engine bay.',
    makes: ['Ferrari', 'Jaguar', 'Alfa Romeo', 'Chevrolet', 'Ford', 'Porsche', 'Mercedes-Benz', 'Aston Martin', 'Pontiac'],
    models: ['Coupe', 'Roadster', 'Spyder', 'Convertible', 'GT', 'Sedan', 'Hardtop'],
  },
  {
    name: 'Motorcycles',
    description: 'Motorcycle replicas with moving kickstands, working steering and rubber tyres.',
    makes: ['Harley-Davidson', 'Ducati', 'BMW', 'Triumph', 'Honda', 'Suzuki', 'Moto Guzzi'],
    models: ['Ultimate Chopper', 'Sport Bike', 'Scrambler', 'Touring', 'Cruiser', 'Racer'],
  },
  {
    name: 'Planes',
    description: 'Scale models of airliners and historic aircraft with rotating propellers.',
    makes: ['Boeing', 'Douglas', 'Supermarine', 'Lockheed', 'Piper', 'Junkers', 'Curtiss'],
    models: ['Airliner', 'Fighter', 'Seaplane', 'Biplane', 'Transport', 'Trainer'],
  },
  {
    name: 'Ships',
    description: 'Hand-finished ship models from tall ships to ocean liners.',
    makes: ['HMS', 'USS', 'RMS', 'SS', 'Pirate'],
    models: ['Clipper', 'Schooner', 'Frigate', 'Galleon', 'Ocean Liner', 'Ketch'],
  },
  {
    name: 'Trains',
    description: 'Model trains and locomotives with authentic liveries.',
    makes: ['Union Pacific', 'Collectable', 'Santa Fe', 'Orient', 'Great Western'],
    models: ['Locomotive', 'Steam Engine', 'Passenger Car', 'Express', 'Switcher'],
  },
  {
    name: 'Trucks and Buses',
    description: 'Trucks, vans and buses with opening doors and detailed chassis.',
    makes: ['Ford', 'Volvo', 'Mack', 'Dodge', 'Mercedes-Benz', 'Peterbilt'],
    models: ['Pickup', 'Delivery Truck', 'School Bus', 'Tanker', 'Flatbed', 'Coach'],
  },
  {
    name: 'Vintage Cars',
    description: 'Replicas of pre-war automobiles with spoked wheels and folding hoods.',
    makes: ['Bugatti', 'Duesenberg', 'Packard', 'Rolls-Royce', 'Ford', 'Cadillac', 'Hispano-Suiza'],
    models: ['Phaeton', 'Town Car', 'Limousine', 'Roadster', 'Touring Car', 'Tourer'],
  },
];

const PRODUCT_SCALES = ['1:10', '1:12', '1:18', '1:24', '1:32', '1:50', '1:72', '1:700'];

const VENDORS = [
  'Min Lin Diecast', 'Classic Metal Creations', 'Highway 66 Mini Classics', 'Red Start Diecast',
  'Motor City Art Classics', 'Second Gear Diecast', 'Autoart Studio Design', 'Welly Diecast Productions',
  'Unimax Art Galleries', 'Studio M Art Models', 'Exoto Designs', 'Gearbox Collectibles', 'Carousel DieCast Legends',
];

const OPEN_STATUSES = ['In Process', 'On Hold'];

function scaled(base: number, scale: number): number {
  return Math.max(1, Math.round(base * scale));
}

function validateOptions(options: SampleDataOptions): Required<SampleDataOptions> {
  const seed = options.seed ?? DEFAULT_SEED;
  const scale = options.scale ?? 1;
  const endDate = options.endDate ?? DEFAULT_END_DATE;
  if (!Number.isInteger(seed)) {
    throw new Error(`Sample data seed must be an integer, got ${seed}.`);
  }
  if (!Number.isFinite(scale) || scale < 0.01 || scale > 100) {
    throw new Error(`Sample data scale must be between 0.01 and 100, got ${scale}.`);
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(endDate) || Number.isNaN(Date.parse(`${endDate}T00:00:00Z`))) {
    throw new Error(`Sample data endDate must be a date YYYY-MM-DD, got '${endDate}'.`);
  }
  return { seed, scale, endDate };
}

/** Generates the sample rows of every table; same options, same rows. */
export function generateSampleData(options: SampleDataOptions = {}): SampleData {
  const { seed, scale, endDate } = validateOptions(options);
  const random = new Random(seed);

  // Offices: fixed reference data.
  const offices: Row[] = OFFICES.map((o) => ({
    office_code: o.code,
    city: o.city,
    phone: o.phone,
    address_line1: o.address1,
    address_line2: o.address2,
    state: o.state,
    country: o.country,
    postal_code: o.postalCode,
    territory: o.territory,
  }));

  // Employees: a fixed management hierarchy, then sales reps. Managers come first, so every
  // reports_to points at an earlier row (InnoDB checks FKs row by row within a multi-row INSERT).
  const employees: Row[] = [];
  let employeeNumber = 1002;
  const addEmployee = (officeCode: string, reportsTo: number | null, jobTitle: string): number => {
    const first = random.pick(FIRST_NAMES);
    const last = random.pick(LAST_NAMES);
    const number = employeeNumber;
    employeeNumber += random.int(1, 20);
    employees.push({
      employee_number: number,
      last_name: last,
      first_name: first,
      extension: `x${random.int(1000, 9999)}`,
      email: `${first.charAt(0)}${last}`.toLowerCase().replace(/[^a-z]/g, '') + '@undercurrent.example',
      office_code: officeCode,
      reports_to: reportsTo,
      job_title: jobTitle,
    });
    return number;
  };
  const president = addEmployee('1', null, 'President');
  const vpSales = addEmployee('1', president, 'VP Sales');
  addEmployee('1', president, 'VP Marketing');
  const managers: Record<Territory, number> = {
    APAC: addEmployee('6', vpSales, 'Sales Manager (APAC)'),
    EMEA: addEmployee('4', vpSales, 'Sales Manager (EMEA)'),
    NA: addEmployee('2', vpSales, 'Sales Manager (NA)'),
    Japan: 0,
  };
  managers.Japan = managers.APAC;
  const repsByTerritory: Record<Territory, number[]> = { NA: [], EMEA: [], APAC: [], Japan: [] };
  const allReps: number[] = [];
  const repCount = scaled(BASE_COUNTS.salesReps, scale);
  for (let i = 0; i < repCount; i++) {
    const office = OFFICES[i % OFFICES.length];
    const rep = addEmployee(office.code, managers[office.territory], 'Sales Rep');
    repsByTerritory[office.territory].push(rep);
    allReps.push(rep);
  }

  // Customers: most have a sales rep of their territory and a credit limit; the others have
  // neither (they never order).
  const customers: Row[] = [];
  const activeCustomers: number[] = [];
  let customerNumber = 103;
  const customerCount = scaled(BASE_COUNTS.customers, scale);
  for (let i = 0; i < customerCount; i++) {
    const location = random.pick(LOCATIONS);
    const hasRep = random.chance(0.82);
    const territoryReps = repsByTerritory[location.territory];
    const rep = hasRep ? random.pick(territoryReps.length > 0 ? territoryReps : allReps) : null;
    const name = `${random.pick(COMPANY_FIRST)} ${random.pick(COMPANY_SECOND)}${random.pick(COMPANY_SUFFIX)}`;
    customers.push({
      customer_number: customerNumber,
      customer_name: name,
      contact_last_name: random.pick(LAST_NAMES),
      contact_first_name: random.pick(FIRST_NAMES),
      phone: `${location.dial} 555 ${String(random.int(0, 9999)).padStart(4, '0')}`,
      address_line1: `${random.int(1, 999)} ${random.pick(STREETS)}`,
      address_line2: random.chance(0.1) ? `Level ${random.int(1, 20)}` : null,
      city: location.city,
      state: location.state,
      postal_code: location.postalCode,
      country: location.country,
      sales_rep_employee_number: rep,
      credit_limit: rep === null ? formatCents(0) : formatCents(random.int(200, 2300) * 10_000),
    });
    if (rep !== null) {
      activeCustomers.push(customerNumber);
    }
    customerNumber += random.int(1, 5);
  }
  const orderingCustomers = activeCustomers.length > 0 ? activeCustomers : customers.map((c) => c.customer_number as number);

  // Product lines: fixed reference data.
  const productLines: Row[] = PRODUCT_LINES.map((line) => ({
    product_line: line.name,
    text_description: line.description,
    html_description: null,
  }));

  // Products: codes S<scale denominator>_<serial>, unique by serial.
  const products: Row[] = [];
  const msrpCents = new Map<string, number>();
  const productCount = scaled(BASE_COUNTS.products, scale);
  for (let i = 0; i < productCount; i++) {
    const line = random.pick(PRODUCT_LINES);
    const productScale = random.pick(PRODUCT_SCALES);
    const code = `S${productScale.split(':')[1]}_${1000 + i}`;
    const buy = random.int(1_500, 10_500);
    const msrp = Math.round((buy * random.int(130, 220)) / 100);
    const make = random.pick(line.makes);
    const model = random.pick(line.models);
    products.push({
      product_code: code,
      product_name: `${random.int(1900, 2005)} ${make} ${model}`,
      product_line: line.name,
      product_scale: productScale,
      product_vendor: random.pick(VENDORS),
      product_description: `${productScale} scale replica of the ${make} ${model}. ${line.description}`,
      quantity_in_stock: random.int(0, 9_999),
      buy_price: formatCents(buy),
      msrp: formatCents(msrp),
    });
    msrpCents.set(code, msrp);
  }
  const productCodes = products.map((p) => p.product_code as string);

  // Orders and their lines: dates spread over the span before endDate, ascending with the
  // order number; the most recent orders are still open.
  const orders: Row[] = [];
  const orderLines: Row[] = [];
  const firstDate = addDays(endDate, -ORDER_SPAN_DAYS);
  const orderCount = scaled(BASE_COUNTS.orders, scale);
  const openFrom = orderCount - Math.max(1, Math.round(orderCount * 0.03));
  const payers = new Set<number>();
  for (let i = 0; i < orderCount; i++) {
    const orderNumber = 10100 + i;
    const offset = Math.min(ORDER_SPAN_DAYS, Math.floor((i * ORDER_SPAN_DAYS) / orderCount) + random.int(0, 2));
    const orderDate = addDays(firstDate, offset);
    let status: string;
    if (i >= openFrom) {
      status = random.pick(OPEN_STATUSES);
    } else {
      const r = random.next();
      status = r < 0.03 ? 'Cancelled' : r < 0.05 ? 'Resolved' : r < 0.06 ? 'Disputed' : 'Shipped';
    }
    const shipped = status === 'Shipped' || status === 'Resolved' || status === 'Disputed';
    const customer = random.pick(orderingCustomers);
    payers.add(customer);
    let comments: string | null = null;
    if (status === 'Cancelled') {
      comments = 'Customer cancelled the order before shipping.';
    } else if (status === 'Disputed' || status === 'Resolved') {
      comments = 'Customer claimed the shipment arrived damaged; a replacement was sent.';
    } else if (status === 'On Hold') {
      comments = 'Order on hold: the customer exceeded the credit limit.';
    } else if (random.chance(0.15)) {
      comments = 'Customer requested express shipping.';
    }
    orders.push({
      order_number: orderNumber,
      order_date: orderDate,
      required_date: addDays(orderDate, random.int(6, 10)),
      shipped_date: shipped ? addDays(orderDate, random.int(1, 6)) : null,
      status,
      comments,
      customer_number: customer,
    });
    const lineCount = random.int(1, MAX_LINES_PER_ORDER);
    random.sample(productCodes, lineCount).forEach((code, index) => {
      const msrp = msrpCents.get(code) as number;
      orderLines.push({
        order_number: orderNumber,
        product_code: code,
        quantity_ordered: random.int(6, 97),
        price_each: formatCents(Math.max(1, Math.round((msrp * random.int(80, 100)) / 100))),
        order_line_number: index + 1,
      });
    });
  }

  // Payments: by customers that ordered; check numbers are unique.
  const payments: Row[] = [];
  const payerList = [...payers].sort((a, b) => a - b);
  const usedChecks = new Set<string>();
  const paymentCount = scaled(BASE_COUNTS.payments, scale);
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (let i = 0; i < paymentCount; i++) {
    let check: string;
    do {
      check = `${random.pick([...letters])}${random.pick([...letters])}${random.int(100000, 999999)}`;
    } while (usedChecks.has(check));
    usedChecks.add(check);
    payments.push({
      customer_number: random.pick(payerList),
      check_number: check,
      payment_date: addDays(firstDate, random.int(5, ORDER_SPAN_DAYS)),
      amount: formatCents(random.int(100_000, 12_000_000)),
    });
  }

  return {
    offices,
    employees,
    customers,
    product_lines: productLines,
    products,
    orders,
    order_lines: orderLines,
    payments,
  };
}

export interface TableLoadReport {
  readonly table: TableName;
  readonly action: 'inserted' | 'skipped';
  /** Rows inserted, or rows already present when skipped because the table was not empty. */
  readonly rows: number;
  readonly reason?: string;
}

export interface LoadSampleDataOptions {
  /**
   * Rows per multi-row INSERT.
   * @default 500
   */
  readonly batchSize?: number;
}

function quoteIdentifier(identifier: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(identifier)) {
    throw new Error(`Refusing to quote unexpected identifier '${identifier}'.`);
  }
  return `\`${identifier}\``;
}

function countOf(rows: unknown[]): number {
  const first = rows[0] as Record<string, unknown> | undefined;
  const value = first?.row_count;
  const count = Number(value);
  if (value === undefined || value === null || !Number.isInteger(count) || count < 0) {
    throw new Error(`Unexpected COUNT(*) result: ${JSON.stringify(rows)}`);
  }
  return count;
}

/**
 * Inserts the sample rows into the tables that are empty, parents first, in one transaction.
 * A table that has rows is left alone, and so is every table whose parent was not loaded by
 * this call (its generated foreign keys would point at rows that do not exist). Values are
 * always bound parameters (`?`), never concatenated into the SQL.
 */
export async function loadSampleData(
  db: Db,
  data: SampleData,
  options: LoadSampleDataOptions = {},
): Promise<TableLoadReport[]> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}.`);
  }
  for (const table of LOAD_ORDER) {
    const columns = SAMPLE_COLUMNS[table];
    for (const row of data[table]) {
      const keys = Object.keys(row);
      if (keys.length !== columns.length || !columns.every((c) => c in row)) {
        throw new Error(`A ${table} row has columns [${keys.join(', ')}]; expected [${columns.join(', ')}].`);
      }
    }
  }

  await db.query('START TRANSACTION');
  try {
    const existing = new Map<TableName, number>();
    for (const table of LOAD_ORDER) {
      existing.set(table, countOf(await db.query(`SELECT COUNT(*) AS row_count FROM ${quoteIdentifier(table)}`)));
    }

    const loaded = new Set<TableName>();
    const report: TableLoadReport[] = [];
    for (const table of LOAD_ORDER) {
      const present = existing.get(table) as number;
      if (present > 0) {
        report.push({ table, action: 'skipped', rows: present, reason: `table already has ${present} row(s)` });
        continue;
      }
      const missingParent = PARENT_TABLES[table].find((parent) => !loaded.has(parent));
      if (missingParent !== undefined) {
        report.push({
          table,
          action: 'skipped',
          rows: 0,
          reason: `parent table ${missingParent} was not loaded by this run, so the generated references would dangle`,
        });
        continue;
      }
      const columns = SAMPLE_COLUMNS[table];
      const rows = data[table];
      const columnList = columns.map(quoteIdentifier).join(', ');
      const tuple = `(${columns.map(() => '?').join(', ')})`;
      for (let start = 0; start < rows.length; start += batchSize) {
        const batch = rows.slice(start, start + batchSize);
        const params = batch.flatMap((row) => columns.map((column) => row[column]));
        await db.query(
          `INSERT INTO ${quoteIdentifier(table)} (${columnList}) VALUES ${batch.map(() => tuple).join(', ')}`,
          params,
        );
      }
      loaded.add(table);
      report.push({ table, action: 'inserted', rows: rows.length });
    }
    await db.query('COMMIT');
    return report;
  } catch (error) {
    // Keep the original error: a failed ROLLBACK (e.g. a lost connection) rolls back anyway.
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
