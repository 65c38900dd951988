// Command etcd is etcd's server, built from the pinned go.etcd.io/etcd/server/v3
// module (its own main lives in etcd's root module, which is not pinned here).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
