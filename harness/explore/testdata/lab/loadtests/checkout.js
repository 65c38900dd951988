// A stand-in for loadtests/checkout.js in the golden tests.
