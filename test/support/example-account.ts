/** The account id of test fixtures: AWS's documentation example, never a real account. */
export const EXAMPLE_ACCOUNT = '123456789012';
