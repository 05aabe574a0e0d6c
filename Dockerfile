# A minimal image holding only the static secretzero binary.
#
#   docker build -t secretzero .
#   docker run --rm -v "$PWD:/work" secretzero validate
#
# It has no shell, so CI jobs do not run inside it; copy the binary into a CI image instead:
#   COPY --from=secretzero /usr/local/bin/secretzero /usr/local/bin/secretzero
#
# The build stage is Alpine, whose Rust targets musl and links statically by default; the final
# stage is distroless "static": no shell, no package manager, only CA certificates (for the
# providers' HTTPS APIs), time zone data, and a non-root user.

FROM rust:1-alpine AS build
RUN apk add --no-cache build-base
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --all-features \
    && strip target/release/secretzero

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/release/secretzero /usr/local/bin/secretzero
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/secretzero"]
CMD ["--help"]
