# One image for every role: docker run IMAGE <role> (key-submission, key-retrieval,
# migrate, purge, purger, keys, verify-export…). Production dependencies only, no
# embedded Postgres (set DATABASE_URL), running as the unprivileged "node" user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts stay off: the build below is explicit. Optional packages come too (esbuild's
# binary, which bundles the entry points), and go again with the embedded Postgres
# binaries in the prune: the image has neither.
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY proto proto
COPY scripts scripts
COPY src src
RUN npm run build && npm prune --omit=dev --omit=optional --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/generated generated
COPY migrations migrations
COPY exposure-configuration exposure-configuration
# Aurora's certificate authorities, so DATABASE_URL can say sslmode=verify-full on AWS.
ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/rds-global-bundle.pem
USER node
EXPOSE 8000 8001 2222
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 CMD ["node", "dist/bundle/healthcheck.mjs"]
# node itself is PID 1, so SIGTERM from `docker stop` reaches the server directly. The
# bundle, from its code cache, starts in about half the time of dist/cli.js (BENCHMARKS.md, cold-start).
ENTRYPOINT ["node", "dist/bundle/cli.mjs"]
CMD ["key-submission"]
