# Jaeger from the pinned static binary (make tools), FROM scratch: a stand-in
# for jaegertracing/jaeger on machines that cannot pull images.
#   docker build -f docker/jaeger.Dockerfile -t chaoslab/jaeger:local .tools/bin
FROM scratch
COPY jaeger /jaeger
ENTRYPOINT ["/jaeger"]
