# ops-console container: the same Makefile build as everywhere (no cargo-leptos), release profile.
# No Docker engine runs on the development machines, so this file is checked by reading only.

FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-unknown-unknown \
 && apt-get update && apt-get install -y --no-install-recommends binaryen brotli && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# `make build` installs wasm-bindgen-cli at the version in Cargo.lock, builds the wasm
# (wasm-release profile) and the server (release), and lays out target/site/.
RUN make build PROFILE=release

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin ops
WORKDIR /app
COPY --from=build /src/target/release/ops-console /usr/local/bin/ops-console
COPY --from=build /src/target/site /app/site
RUN mkdir -p /app/data && chown ops /app/data
ENV LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_OUTPUT_NAME=ops-console \
    LEPTOS_SITE_ADDR=0.0.0.0:8080
USER ops
EXPOSE 8080
# Mount a config with OPS_CONSOLE_CONFIG (or --config): on 0.0.0.0 the dev login is refused.
ENTRYPOINT ["ops-console"]
CMD ["serve"]
