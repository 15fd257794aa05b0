import { describeReferenceScenario } from '../shared/scenario.js';

describeReferenceScenario('fastify');
