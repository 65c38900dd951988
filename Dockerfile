# The shop's services as minimal images: one static Go binary and two empty
# directories, nothing else — FROM scratch, so it builds with no image pull.
#
#   make images            # builds bin/image/services/* and one image chaoslab/<service>:dev per service
#
# or by hand, after CGO_ENABLED=0 GOOS=linux go build -o bin/image/services/ ./services/cmd/...:
#
#   docker build --build-arg SERVICE=orders -t chaoslab/orders:dev .
#
# .dockerignore keeps the context to bin/image/services/. Every flag of a
# service can be set through its environment (CHAOSLAB_<SERVICE>_<FLAG>);
# docker-compose.yml does so. SERVICE=registry is the shop's registry, the
# pinned static etcd (make image-binaries copies .tools/bin/etcd there),
# configured the same way by its ETCD_<FLAG> variables; its data directory
# is under /data, which the unprivileged user owns.
FROM scratch
ARG SERVICE
# /data (the SQLite databases) and /tmp, owned by the unprivileged user.
COPY --chown=65532:65532 bin/image/services/rootfs/ /
COPY bin/image/services/${SERVICE} /service
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["/service"]
