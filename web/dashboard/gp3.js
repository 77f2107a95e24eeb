// The entry of the dashboard's 3D bundle: three.js and the addons the Levels
// page uses, built by esbuild into one classic script that sets window.GP3
// (Makefile, dashboard-assets; docs/dashboard.md, "Building the front end").
// The page's own code (internal/dashboard/web/levels.js) is not bundled.
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OBJLoader } from 'three/addons/loaders/OBJLoader.js';
import { FBXLoader } from 'three/addons/loaders/FBXLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

window.GP3 = { THREE, GLTFLoader, OBJLoader, FBXLoader, OrbitControls };
