// A stand-in for loadtests/products.js in the golden tests.
