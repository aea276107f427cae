// The PlacementRule controller as upstream's cmd/placementrule runs it, with one change for the
// sandbox: its metrics address, hard-coded upstream to 0.0.0.0:8383, comes from
// PLACEMENTRULE_METRICS_BIND_ADDRESS (host:port), so several sandbox hubs can run on one machine
// and nothing listens beyond loopback. Everything else is upstream's exec package.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	_ "unsafe" // go:linkname

	"github.com/spf13/pflag"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/klog/v2"

	"open-cluster-management.io/multicloud-operators-subscription/cmd/placementrule/exec"
)

//go:linkname metricsHost open-cluster-management.io/multicloud-operators-subscription/cmd/placementrule/exec.metricsHost
var metricsHost string

//go:linkname metricsPort open-cluster-management.io/multicloud-operators-subscription/cmd/placementrule/exec.metricsPort
var metricsPort int

func main() {
	if addr := os.Getenv("PLACEMENTRULE_METRICS_BIND_ADDRESS"); addr != "" {
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			fmt.Fprintf(os.Stderr, "PLACEMENTRULE_METRICS_BIND_ADDRESS=%q: want host:port\n", addr)
			os.Exit(2)
		}
		metricsHost, metricsPort = host, n
	}
	// upstream cmd/placementrule/main.go
	exec.ProcessFlags()
	klog.InitFlags(nil)
	pflag.CommandLine.AddGoFlagSet(flag.CommandLine)
	pflag.Parse()
	defer klog.Flush()
	exec.RunManager()
}
