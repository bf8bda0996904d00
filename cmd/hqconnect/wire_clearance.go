package main

import "hqconnect/server"

// clearanceServices builds the clearance capability's handlers.
func (m *Main) clearanceServices() []server.Service { return nil }

// registerClearanceJobs registers the clearance capability's scheduler jobs
// in a worker process.
func (m *Main) registerClearanceJobs() {}
