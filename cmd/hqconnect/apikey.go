package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"hqconnect/internal/auth"
	"hqconnect/server/clearance"
)

// apikey manages the API keys of system clients from the server's shell:
//
//	hqconnect apikey create --name "VNACCS gateway"
//
// prints the new key once (only its hash is stored). Listing and revoking
// are RPCs for ADMIN (SystemClientService).
func apikey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, "usage: hqconnect apikey create --name NAME [database flags]\n")
		return errors.New("apikey: the only subcommand is create")
	}
	var name string
	c, err := parseConfig("apikey create", args[1:], getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "who will use the key, e.g. \"VNACCS gateway\" (required)")
	})
	if err != nil {
		return err
	}
	if name == "" {
		return errors.New("--name is required")
	}
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, c, log)
	if err != nil {
		return err
	}
	defer db.Close()
	// The command line acts as the system in the audit log.
	k, secret, err := clearance.CreateAPIKey(auth.WithPrincipal(ctx, nil), db, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "API key %s created for %q; it is shown only now: store it as a secret.\n", k.ID, k.Name)
	fmt.Fprintln(stdout, secret)
	return nil
}
