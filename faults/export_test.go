package faults

// FixtureTopology returns the topology the tests run against
// (testTopology), for the tests of package faults_test.
func FixtureTopology() Topology { return testTopology() }
