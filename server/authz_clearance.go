package server

// clearancePolicies: clearance status: declaration events from the customs system and what enterprises and officers read.
var clearancePolicies = map[string]Policy{}
