// The sandbox (pause) image's one binary. Test infrastructure only.
module v6-node/test/cluster/pause

go 1.25.0
