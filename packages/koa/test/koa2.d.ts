// Koa 2, installed under the alias `koa2` to run the suite on both majors. Its API as used by the
// tests is the same as Koa 3's, so it borrows the Koa 3 types.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
