package dev.crucible;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static com.tngtech.archunit.base.DescribedPredicate.describe;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The layer table of docs/ARCHITECTURE.md, enforced: it is read from the document (so the table and this test
 * cannot disagree), and every dependency of a main class on another Crucible package must be one its row allows.
 */
class LayersTest {
    private static final String ROOT = "dev.crucible";
    private static final Pattern ROW = Pattern.compile("^\\| `([a-z][a-z.]*)` \\| ([^|]*) \\|");
    private static final Pattern NAME = Pattern.compile("`([A-Za-z.]+)`");

    /** A table row: the package and what it may use (packages, and single classes of other packages). */
    record Layer(String name, Set<String> packages, Set<String> classes) {
        String definition() {
            return name.equals(ROOT) ? ROOT : ROOT + "." + name + "..";
        }
    }

    static List<Layer> table() throws IOException {
        String doc = Files.readString(Path.of("docs/ARCHITECTURE.md"));
        int start = doc.indexOf("## Layers");
        String section = doc.substring(start, doc.indexOf("\n## ", start + 1));
        Map<String, Layer> layers = new LinkedHashMap<>();
        for (String line : section.split("\n")) {
            Matcher row = ROW.matcher(line);
            if (!row.find()) {
                continue;
            }
            String name = row.group(1);
            Set<String> packages = new LinkedHashSet<>();
            Set<String> classes = new LinkedHashSet<>();
            Matcher m = NAME.matcher(row.group(2));
            while (m.find()) {
                String used = m.group(1);
                if (Character.isUpperCase(used.charAt(used.lastIndexOf('.') + 1))) {
                    classes.add(ROOT + "." + used);
                } else if (!used.equals(name)) {
                    packages.add(used);
                }
            }
            if (row.group(2).trim().equals("every package")) {
                packages.add("*");
            }
            layers.put(name, new Layer(name, packages, classes));
        }
        return List.copyOf(layers.values());
    }

    private static JavaClasses imported;

    private static synchronized JavaClasses mainClasses() {
        if (imported == null) {
            imported = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                    .importPackages(ROOT);
        }
        return imported;
    }

    private static LayeredArchitecture rule(List<Layer> table) {
        LayeredArchitecture arch = layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (Layer l : table) {
            arch = arch.layer(l.name()).definedBy(l.definition());
        }
        List<String> names = table.stream().map(Layer::name).toList();
        for (Layer l : table) {
            if (l.packages().contains("*")) {
                continue;
            }
            for (String used : l.packages()) {
                if (!names.contains(used)) {
                    throw new AssertionError("the row of `" + l.name() + "` names `" + used + "`, which has no row");
                }
            }
            arch = l.packages().isEmpty() ? arch.whereLayer(l.name()).mayNotAccessAnyLayer()
                    : arch.whereLayer(l.name()).mayOnlyAccessLayers(l.packages().toArray(String[]::new));
            for (String cls : l.classes()) {
                arch = arch.ignoreDependency(resideInAPackage(l.definition()),
                        describe(cls, (JavaClass c) -> c.getName().equals(cls) || c.getName().startsWith(cls + "$")));
            }
        }
        return arch;
    }

    @Test
    void everyDependencyBetweenPackagesIsOneTheLayerTableAllows() throws IOException {
        List<Layer> table = table();
        assertFalse(table.size() < 10, "layer table not found in docs/ARCHITECTURE.md: " + table);
        rule(table).check(mainClasses());
    }

    @Test
    void everyPackageHasARowAndEveryRowItsPackage() throws IOException {
        List<Layer> table = table();
        Set<String> missing = new TreeSet<>();
        Set<String> seen = new TreeSet<>();
        for (JavaClass c : mainClasses()) {
            String pkg = c.getPackageName();
            String layer = table.stream().map(Layer::name)
                    .filter(n -> n.equals(ROOT) ? pkg.equals(ROOT) : pkg.equals(ROOT + "." + n) || pkg.startsWith(ROOT + "." + n + "."))
                    .findFirst().orElse(null);
            if (layer == null) {
                missing.add(pkg);
            } else {
                seen.add(layer);
            }
        }
        assertEquals(Set.of(), missing, "packages without a row in docs/ARCHITECTURE.md's layer table");
        List<String> empty = new ArrayList<>();
        for (Layer l : table) {
            if (!seen.contains(l.name())) {
                empty.add(l.name());
            }
        }
        assertEquals(List.of(), empty, "rows of the layer table without classes");
    }
}
