import ddsu666 from '../../meter-models/chint-ddsu666.json' with { type: 'json' };
import dtsyTou from '../../meter-models/estate-dtsy-tou.json' with { type: 'json' };
import lxsy from '../../meter-models/water-lxsy.json' with { type: 'json' };
import { MeterModel } from './register-map.js';

/**
 * The register maps shipped with the product, parsed once. Adding a model is adding a JSON file under
 * protocol/meter-models/ and a line here; the gateway and the simulators then both know it.
 */
export const METER_MODELS: ReadonlyMap<string, MeterModel> = new Map(
  [ddsu666, dtsyTou, lxsy].map((raw) => {
    const model = MeterModel.parse(raw);
    return [model.model, model] as const;
  }),
);

export function meterModel(name: string): MeterModel {
  const model = METER_MODELS.get(name);
  if (!model) throw new Error(`unknown meter model "${name}"; known: ${[...METER_MODELS.keys()].join(', ')}`);
  return model;
}
