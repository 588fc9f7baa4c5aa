//go:build tools

// Package tools records etcd, the program this module builds, so that
// `go mod tidy` keeps its dependencies in go.mod and go.sum. The build tag
// keeps this file out of every build (a main package cannot be imported).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
