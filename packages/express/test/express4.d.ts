// Express 4, installed under the alias `express4` to run the suite on both majors. Its API as used
// by the tests is the same as Express 5's, so it borrows the Express 5 types.
declare module 'express4' {
  import express from 'express';
  export default express;
}
