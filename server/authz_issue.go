package server

// issuePolicies: issues (vướng mắc), FAQ and their administration.
var issuePolicies = map[string]Policy{}
