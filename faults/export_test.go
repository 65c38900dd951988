package faults

// FixtureTopology is the topology the tests run against (testTopology),
// for the tests of package faults_test.
var FixtureTopology = testTopology
