import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/load-config.js';
import { databaseOptions } from './database-options.js';

/**
 * The DataSource of the TypeORM CLI (`npm run migration:generate|run|revert`), configured
 * from the same environment as the server. Migrations stay off at initialisation: the CLI
 * command decides what runs (a revert must not first apply what is pending).
 */
const config = loadConfig();

export default new DataSource(databaseOptions(config.DATABASE_URL, false));
