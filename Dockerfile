# syntax=docker/dockerfile:1
# Roomcast: multi-stage build. `docker compose up` runs it with MySQL and Redis (docker-compose.yml).

# ---- deps: every dependency, native modules (better-sqlite3) compiled for this image -------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# Toolchain for native modules whose prebuilt binary is not available.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# ---- build: compile TypeScript to dist/ -----------------------------------------------------------
FROM deps AS build
COPY . .
RUN npm run build

# ---- prod-deps: the same node_modules without devDependencies --------------------------------------
FROM deps AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund

# ---- runtime ---------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
# package.json is needed at run time: its "imports" map (#protocol) and "type": "module".
COPY --chown=node:node package.json ./
COPY --from=prod-deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# Served at /docs/asyncapi.yaml (package.json "imports": #asyncapi).
COPY --chown=node:node docs/asyncapi.yaml ./docs/asyncapi.yaml
# Default DATABASE_URL is sqlite:./data/roomcast.sqlite: give the non-root user a place to write it.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://localhost:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself (graceful shutdown, exit 0).
CMD ["node", "dist/src/main.js"]
