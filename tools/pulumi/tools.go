//go:build tools

// Package tools pins the Pulumi CLI this repository's engine layer runs, at the
// version package.json pins for @pulumi/pulumi (test/engine/toolchain.test.ts
// keeps the two equal). build.sh builds the CLI from this module; nothing here
// is compiled into anything else (the tools build tag keeps it out of builds).
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
	// The CLI's version is set by -ldflags -X on this package's Version.
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
)
