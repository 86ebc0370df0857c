// Original file: proto/layerkeep.proto

import type { ImageRef as _layerkeep_v1_ImageRef, ImageRef__Output as _layerkeep_v1_ImageRef__Output } from '../../layerkeep/v1/ImageRef.js';

export interface ContainerHookRequest {
  'containerId'?: (string);
  'runtime'?: (string);
  'name'?: (string);
  'labels'?: ({[key: string]: string});
  'image'?: (_layerkeep_v1_ImageRef | null);
  'bundle'?: (string);
  'mergedDir'?: (string);
  'upperDir'?: (string);
  'mountDestinations'?: (string)[];
  'ociState'?: (string);
}

export interface ContainerHookRequest__Output {
  'containerId': (string);
  'runtime': (string);
  'name': (string);
  'labels': ({[key: string]: string});
  'image': (_layerkeep_v1_ImageRef__Output | null);
  'bundle': (string);
  'mergedDir': (string);
  'upperDir': (string);
  'mountDestinations': (string)[];
  'ociState': (string);
}
