import { describeReferenceScenario } from '../shared/scenario.js';

describeReferenceScenario('express');
