// The suite runs Express 4 and Koa 2 beside Express 5 and Koa 3 through npm aliases; their
// APIs used here are the same, so they borrow the current typings.
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
